import type { handleUnaryCall, Metadata, ServerUnaryCall, sendUnaryData } from "@grpc/grpc-js"
import { status } from "@grpc/grpc-js"
import {
  authenticatePlatformAdmin,
  getOrgLimits,
  MAX_USAGE_BATCH,
  monthSpendOf,
  queryUsage,
  recordUsage,
  setOrgLimits,
  TokenValidator,
  type UsageActor
} from "@ibex/auth-core"
import {
  ADMIN_CREDENTIAL_PREFIX,
  type AuditLog,
  type DomainError,
  FieldError,
  MissingToken,
  type OrgLimitsStore,
  type OrgStore,
  type PlatformAdminStore,
  type SecretHasher,
  type UsageRecord,
  type UsageStore,
  ValidationFailed
} from "@ibex/domain"
import { Effect, Either, Metric, Option, Redacted, Tracer } from "effect"
import { bearerToken, traceParentOf } from "./AuthGrpcServer.js"
import type {
  GetMonthSpendRequest,
  GetOrgLimitsRequest,
  QueryUsageRequest,
  RecordUsageRequest,
  SetOrgLimitsRequest,
  UsageServiceServer
} from "./gen/ibex/auth/v1/usage.js"
import { countRpc, managementRefusedTotal, usageRecordsTotal } from "./metrics.js"
import { toGrpcFailure } from "./status.js"
import { groupByFromWire, limitsToWire, reportToWire, safeNumber, usageRecordFromWire } from "./UsageWire.js"
import { answerUnary } from "./unaryCall.js"

export const USAGE_SERVICE_NAME = "ibex.auth.v1.UsageService"

/** What the UsageService handlers need. */
export type UsageServices =
  | UsageStore
  | OrgLimitsStore
  | OrgStore
  | AuditLog
  | TokenValidator
  | PlatformAdminStore
  | SecretHasher

const invalid = (field: string, message: string) =>
  new ValidationFailed({ fieldErrors: [new FieldError({ field, message })] })

/** A refused batch names at most this many problems (the first ones). */
const MAX_FIELD_ERRORS = 20

/** Every wire record as a domain record, or the batch's problems (`records[i].<field>`). */
const decodeBatch = (request: RecordUsageRequest): Effect.Effect<ReadonlyArray<UsageRecord>, ValidationFailed> => {
  if (request.records.length > MAX_USAGE_BATCH)
    return Effect.fail(invalid("records", `at most ${MAX_USAGE_BATCH} per batch`))
  const records: Array<UsageRecord> = []
  const problems: Array<FieldError> = []
  for (const [i, message] of request.records.entries()) {
    const decoded = usageRecordFromWire(message, `records[${i}].`)
    if (Either.isLeft(decoded)) problems.push(...decoded.left)
    else records.push(decoded.right)
  }
  return problems.length > 0
    ? Effect.fail(new ValidationFailed({ fieldErrors: problems.slice(0, MAX_FIELD_ERRORS) }))
    : Effect.succeed(records)
}

/**
 * ibex.auth.v1.UsageService. RecordUsage and GetMonthSpend are the proxies' internal calls
 * (network trust, as Authorize): the first validates the whole batch, then stores it
 * idempotently; the second reads the ledger a proxy rebuilds its spend counter from. The other RPCs
 * authenticate `authorization: Bearer …`: a platform-admin credential (`ibex_padm_…`) acts in the
 * org it names; any other bearer is validated as a PAT (through the caching validator) and acts in
 * its own org with the RPC's permission (auth-core's `usageOrg`). Failures map through the
 * ErrorCatalogue as the other services' do.
 */
export const makeUsageHandlers: Effect.Effect<UsageServiceServer, never, UsageServices> = Effect.gen(function* () {
  const runtime = yield* Effect.runtime<UsageServices>()
  const validator = yield* TokenValidator

  const authenticate = (method: string, metadata: Metadata): Effect.Effect<UsageActor, DomainError, UsageServices> =>
    Effect.gen(function* () {
      const bearer = bearerToken(metadata)
      if (Option.isNone(bearer)) return yield* new MissingToken()
      if (Redacted.value(bearer.value).startsWith(ADMIN_CREDENTIAL_PREFIX))
        return yield* authenticatePlatformAdmin(bearer.value)
      const principal = yield* validator.validate(bearer.value)
      yield* Effect.annotateCurrentSpan("ibex.org_id", principal.orgId)
      return { kind: "tenant", principal } as const
    }).pipe(
      Effect.tapError((e) =>
        e._tag === "StoreUnavailable"
          ? Effect.void
          : Effect.zipRight(
              Metric.increment(Metric.tagged(managementRefusedTotal, "operation", method)),
              Effect.logWarning({ event: "usage_call_refused", rpc: method, reason: e._tag })
            )
      )
    )

  const unary =
    <Req, Res>(
      method: string,
      handle: (request: Req, metadata: Metadata) => Effect.Effect<Res, DomainError, UsageServices>
    ): handleUnaryCall<Req, Res> =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      const count = (code: status) => countRpc(method, status[code] ?? String(code))
      const parent = traceParentOf(call.metadata)
      const effect = Effect.suspend(() => handle(call.request, call.metadata)).pipe(
        Effect.tapBoth({
          onFailure: (error) => count(toGrpcFailure(error).code),
          onSuccess: () => count(status.OK)
        }),
        Effect.tapDefect(() =>
          Effect.zipRight(Effect.logError({ event: "rpc_defect", rpc: method }), count(status.INTERNAL))
        ),
        Effect.withSpan(`UsageService.${method}`, {
          kind: "server",
          attributes: { "rpc.system": "grpc", "rpc.service": USAGE_SERVICE_NAME, "rpc.method": method },
          captureStackTrace: false,
          ...(parent === undefined ? {} : { parent: Tracer.externalSpan(parent) })
        }),
        Effect.annotateLogs("rpc", method)
      )
      answerUnary(runtime, effect, call, callback)
    }

  const authenticated =
    <Req, Res>(
      method: string,
      handle: (actor: UsageActor, request: Req) => Effect.Effect<Res, DomainError, UsageServices>
    ) =>
    (request: Req, metadata: Metadata) =>
      Effect.flatMap(authenticate(method, metadata), (actor) => handle(actor, request))

  return {
    recordUsage: unary("RecordUsage", (request: RecordUsageRequest) =>
      Effect.gen(function* () {
        const records = yield* decodeBatch(request)
        const result = yield* recordUsage(records)
        yield* Metric.incrementBy(Metric.tagged(usageRecordsTotal, "outcome", "inserted"), result.inserted)
        yield* Metric.incrementBy(Metric.tagged(usageRecordsTotal, "outcome", "duplicate"), result.duplicates)
        return { inserted: result.inserted, duplicates: result.duplicates }
      }).pipe(
        Effect.tapErrorTag("ValidationFailed", (e) =>
          Effect.zipRight(
            Metric.incrementBy(Metric.tagged(usageRecordsTotal, "outcome", "refused"), request.records.length),
            Effect.logWarning({
              event: "usage_batch_refused",
              records: request.records.length,
              fields: e.fieldErrors.slice(0, 5).map((f) => f.field)
            })
          )
        )
      )
    ),
    getMonthSpend: unary("GetMonthSpend", (request: GetMonthSpendRequest) =>
      Effect.map(monthSpendOf(request.orgId, request.month), (spend) => ({ spendMicroUsd: BigInt(spend) }))
    ),
    queryUsage: unary(
      "QueryUsage",
      authenticated("QueryUsage", (actor, request: QueryUsageRequest) =>
        Effect.gen(function* () {
          const groupBy = groupByFromWire(request.groupBy)
          if (groupBy === undefined) return yield* invalid("group_by", "must be a UsageGroupBy value")
          const report = yield* queryUsage(actor, request.org, {
            since: request.since ?? null,
            until: request.until ?? null,
            groupBy
          })
          return reportToWire(report)
        })
      )
    ),
    getOrgLimits: unary(
      "GetOrgLimits",
      authenticated("GetOrgLimits", (actor, request: GetOrgLimitsRequest) =>
        Effect.map(getOrgLimits(actor, request.org), (view) => ({ limits: limitsToWire(view) }))
      )
    ),
    setOrgLimits: unary(
      "SetOrgLimits",
      authenticated("SetOrgLimits", (actor, request: SetOrgLimitsRequest) =>
        Effect.gen(function* () {
          const budget = request.monthlyBudgetMicroUsd === undefined ? null : safeNumber(request.monthlyBudgetMicroUsd)
          if (budget === undefined)
            return yield* invalid("monthly_budget_micro_usd", `must be at most ${Number.MAX_SAFE_INTEGER}`)
          const view = yield* setOrgLimits(actor, request.org, {
            tokensPerMinute: request.tokensPerMinute ?? null,
            monthlyBudgetMicroUsd: budget
          })
          return { limits: limitsToWire(view) }
        })
      )
    )
  } satisfies UsageServiceServer
})
