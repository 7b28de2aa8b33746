import {
  AuditLog,
  actorLabel,
  FieldError,
  InsufficientPermissions,
  isCanonicalUuid,
  monthStartUtc,
  OrgAccessDenied,
  type OrgId,
  OrgLimits,
  OrgLimitsStore,
  type OrgStore,
  Permissions,
  type PlatformActor,
  type Principal,
  type RecordedUsage,
  ResourceNotFound,
  RpcPermissions,
  type StoreUnavailable,
  type UsageGroupBy,
  type UsageRecord,
  UsageStore,
  type UsageTotals,
  ValidationFailed
} from "@ibex/domain"
import { Clock, Effect, Option } from "effect"
import { resolveOrg } from "./platformAdmin.js"

/**
 * Usage metering on the auth side: storing the records the proxies ship, reporting them, and an
 * org's metering limits. Transport-free: the UsageService (gRPC) and the CLI working directly on
 * the database call these. A tenant acts only in its own org and needs the RPC's permission
 * (`usage:read`, `budget:manage`); a platform admin (or the database owner) names any org.
 */

/** Records in one RecordUsage batch, at most. */
export const MAX_USAGE_BATCH = 500
/** Model, provider and upstream model names, at most (characters). */
export const MAX_USAGE_NAME = 256
/** Token counts, durations and the tokens-per-minute limit fit the database's integer. */
export const MAX_INT32 = 2_147_483_647
/** Money in micro-USD stays an exact JavaScript number. */
export const MAX_MICRO_USD = Number.MAX_SAFE_INTEGER

/** Who reads usage or changes limits: a tenant's validated token, or a platform actor. */
export type UsageActor = { readonly kind: "tenant"; readonly principal: Principal } | PlatformActor

export type UsageRpc = "QueryUsage" | "GetOrgLimits" | "SetOrgLimits"

const field = (name: string, message: string) => new FieldError({ field: name, message })
const invalid = (name: string, message: string) => new ValidationFailed({ fieldErrors: [field(name, message)] })

// ---------------------------------------------------------------------------------------------
// Recording

// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to refuse them
const controlCharacters = /[\u0000-\u001f\u007f]/

/**
 * What is wrong with one record beyond its schema (which the caller has decoded): the bounds of
 * the database columns, canonical ids (the idempotency key must not have two spellings), and a
 * request id without control characters. Field names are the wire's.
 */
export const usageRecordProblems = (record: UsageRecord): Array<FieldError> => {
  const problems: Array<FieldError> = []
  if (record.requestId.length < 1 || record.requestId.length > 128 || controlCharacters.test(record.requestId))
    problems.push(field("request_id", "must be 1 to 128 characters, no control characters"))
  for (const [name, value] of [
    ["org_id", record.orgId],
    ["agent_id", record.agentId],
    ["token_id", record.tokenId]
  ] as const)
    if (!isCanonicalUuid(value)) problems.push(field(name, "must be a lowercase UUID"))
  for (const [name, value] of [
    ["model", record.model],
    ["provider", record.provider],
    ["upstream_model", record.upstreamModel]
  ] as const)
    if (value.length > MAX_USAGE_NAME) problems.push(field(name, `must be at most ${MAX_USAGE_NAME} characters`))
  for (const [name, value] of [
    ["prompt_tokens", record.promptTokens],
    ["completion_tokens", record.completionTokens],
    ["cached_tokens", record.cachedTokens],
    ["latency_ms", record.latencyMs],
    ["time_to_first_token_ms", record.timeToFirstTokenMs ?? 0]
  ] as const)
    if (!Number.isInteger(value) || value < 0 || value > MAX_INT32)
      problems.push(field(name, `must be an integer from 0 to ${MAX_INT32}`))
  if (!Number.isInteger(record.costMicroUsd) || record.costMicroUsd < 0 || record.costMicroUsd > MAX_MICRO_USD)
    problems.push(field("cost_micro_usd", `must be an integer from 0 to ${MAX_MICRO_USD}`))
  if (!Number.isInteger(record.status) || record.status < 100 || record.status > 599)
    problems.push(field("status", "must be an HTTP status, 100 to 599"))
  if (Number.isNaN(record.createdAt.getTime())) problems.push(field("created_at", "must be a valid timestamp"))
  return problems
}

/**
 * Stores a batch the proxies shipped: all of it or nothing. Every record is checked first; one
 * bad record, or a record of an org that does not exist, refuses the whole batch
 * (ValidationFailed, `records[i].<field>`), which is final: sending it again gets the same answer.
 * Idempotent per (org, request id): see UsageStore.record.
 */
export const recordUsage = (
  records: ReadonlyArray<UsageRecord>
): Effect.Effect<RecordedUsage, ValidationFailed | StoreUnavailable, UsageStore | OrgLimitsStore> =>
  Effect.gen(function* () {
    if (records.length > MAX_USAGE_BATCH) return yield* invalid("records", `at most ${MAX_USAGE_BATCH} per batch`)
    const problems = records.flatMap((record, i) =>
      usageRecordProblems(record).map((p) => field(`records[${i}].${p.field}`, p.message))
    )
    if (problems.length > 0) return yield* new ValidationFailed({ fieldErrors: problems.slice(0, 20) })
    // An unknown org would fail the insert (its foreign key) as UNAVAILABLE, and the proxy would
    // send the batch again forever: refuse it as invalid instead. One read per org in the batch.
    const limits = yield* OrgLimitsStore
    for (const orgId of new Set(records.map((r) => r.orgId)))
      if (Option.isNone(yield* limits.get(orgId as OrgId)))
        return yield* invalid(`records[${records.findIndex((r) => r.orgId === orgId)}].org_id`, "no such org")
    const store = yield* UsageStore
    return yield* store.record(records)
  }).pipe(Effect.withSpan("Usage.record", { attributes: { "ibex.usage.batch_size": records.length } }))

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/

/**
 * What an org's stored records say it spent in one UTC calendar month (`YYYY-MM`): the ledger a
 * proxy rebuilds its admission counter from when that counter is gone. An unknown org spent 0.
 */
export const monthSpendOf = (
  orgId: string,
  month: string
): Effect.Effect<number, ValidationFailed | StoreUnavailable, UsageStore> =>
  Effect.gen(function* () {
    if (!isCanonicalUuid(orgId)) return yield* invalid("org_id", "must be a UUID")
    const parsed = MONTH.exec(month)
    if (parsed === null) return yield* invalid("month", "must be YYYY-MM")
    const monthStart = new Date(Date.UTC(Number(parsed[1]), Number(parsed[2]) - 1, 1))
    return yield* (yield* UsageStore).monthSpend(orgId as OrgId, monthStart)
  }).pipe(Effect.withSpan("Usage.monthSpend"))

// ---------------------------------------------------------------------------------------------
// Who may act in which org

const refused = (caller: Principal, operation: UsageRpc, reason: string) =>
  Effect.flatMap(AuditLog, (audit) =>
    audit.record({ type: "management_refused", orgId: caller.orgId, actorTokenId: caller.tokenId, operation, reason })
  )

/**
 * The org an RPC acts in. A tenant: its own org, with the RPC's permission; `ref` empty or its own
 * org's id (anything else, even another org's real id, is OrgAccessDenied, never a lookup). A
 * platform actor: the org `ref` names (id or exact name), which must exist.
 */
export const usageOrg = (
  actor: UsageActor,
  operation: UsageRpc,
  ref: string
): Effect.Effect<
  OrgId,
  InsufficientPermissions | OrgAccessDenied | ValidationFailed | ResourceNotFound | StoreUnavailable,
  AuditLog | OrgStore
> =>
  Effect.gen(function* () {
    const text = ref.trim()
    if (actor.kind === "tenant") {
      const caller = actor.principal
      const required = RpcPermissions[operation]
      if (!Permissions.has(caller.permissions, required)) {
        yield* refused(caller, operation, `missing ${required}`)
        return yield* new InsufficientPermissions({ required: [required] })
      }
      if (text !== "" && text.toLowerCase() !== caller.orgId) {
        yield* refused(caller, operation, "another org")
        return yield* new OrgAccessDenied()
      }
      return caller.orgId
    }
    if (text === "") return yield* invalid("org", "required for a platform admin: an org id or exact name")
    return (yield* resolveOrg(text)).id
  })

const platformAudit = (actor: UsageActor, operation: UsageRpc, orgId: OrgId) =>
  actor.kind === "tenant"
    ? Effect.void
    : Effect.flatMap(AuditLog, (log) =>
        log.record({ type: "platform_action", actor: actorLabel(actor), operation, orgId, targetId: null })
      )

// ---------------------------------------------------------------------------------------------
// Reports

export interface UsageReportInput {
  /** Inclusive; null: the start of the current UTC month. */
  readonly since: Date | null
  /** Exclusive; null: now. */
  readonly until: Date | null
  readonly groupBy: UsageGroupBy
}

export interface UsageReport {
  readonly orgId: OrgId
  readonly since: Date
  readonly until: Date
  readonly groupBy: UsageGroupBy
  /** One row per group, ordered by key. */
  readonly rows: ReadonlyArray<UsageTotals>
}

/** An org's usage over `[since, until)`, summed per group. */
export const queryUsage = (actor: UsageActor, ref: string, input: UsageReportInput) =>
  Effect.gen(function* () {
    const orgId = yield* usageOrg(actor, "QueryUsage", ref)
    const now = new Date(yield* Clock.currentTimeMillis)
    const since = input.since ?? monthStartUtc(now)
    const until = input.until ?? now
    if (Number.isNaN(since.getTime())) return yield* invalid("since", "must be a valid timestamp")
    if (Number.isNaN(until.getTime())) return yield* invalid("until", "must be a valid timestamp")
    if (until.getTime() <= since.getTime()) return yield* invalid("until", "must be after since")
    const store = yield* UsageStore
    const rows = yield* store.totals(orgId, { since, until, groupBy: input.groupBy })
    yield* platformAudit(actor, "QueryUsage", orgId)
    return { orgId, since, until, groupBy: input.groupBy, rows } satisfies UsageReport
  }).pipe(Effect.withSpan("Usage.query"))

// ---------------------------------------------------------------------------------------------
// Limits

export interface OrgLimitsView {
  readonly orgId: OrgId
  readonly limits: OrgLimits
  /** 00:00 UTC on the first day of the current month. */
  readonly monthStart: Date
  /** Recorded spend since `monthStart`, micro-USD. */
  readonly monthSpendMicroUsd: number
}

const withSpend = (orgId: OrgId, limits: OrgLimits) =>
  Effect.gen(function* () {
    const monthStart = monthStartUtc(new Date(yield* Clock.currentTimeMillis))
    const spend = yield* (yield* UsageStore).monthSpend(orgId, monthStart)
    return { orgId, limits, monthStart, monthSpendMicroUsd: spend } satisfies OrgLimitsView
  })

const orgNotFound = () => new ResourceNotFound({ resource: "org" })

/** An org's limits and its spend this month. */
export const getOrgLimits = (actor: UsageActor, ref: string) =>
  Effect.gen(function* () {
    const orgId = yield* usageOrg(actor, "GetOrgLimits", ref)
    const found = yield* (yield* OrgLimitsStore).get(orgId)
    if (Option.isNone(found)) return yield* orgNotFound()
    const view = yield* withSpend(orgId, found.value)
    yield* platformAudit(actor, "GetOrgLimits", orgId)
    return view
  }).pipe(Effect.withSpan("Usage.getLimits"))

export interface OrgLimitsInput {
  /** 1 to 2^31 - 1; null: no token limit. */
  readonly tokensPerMinute: number | null
  /** 0 to 2^53 - 1 micro-USD; null: no budget (0: nothing may be spent). */
  readonly monthlyBudgetMicroUsd: number | null
}

const checkLimits = (input: OrgLimitsInput) => {
  const problems: Array<FieldError> = []
  const tpm = input.tokensPerMinute
  if (tpm !== null && (!Number.isInteger(tpm) || tpm < 1 || tpm > MAX_INT32))
    problems.push(field("tokens_per_minute", `must be an integer from 1 to ${MAX_INT32}, or cleared`))
  const budget = input.monthlyBudgetMicroUsd
  if (budget !== null && (!Number.isInteger(budget) || budget < 0 || budget > MAX_MICRO_USD))
    problems.push(field("monthly_budget_micro_usd", `must be an integer from 0 to ${MAX_MICRO_USD}, or cleared`))
  return problems.length > 0
    ? Effect.fail(new ValidationFailed({ fieldErrors: problems }))
    : Effect.succeed(new OrgLimits({ tokensPerMinute: tpm, monthlyBudgetMicroUsd: budget }))
}

/**
 * Replaces an org's limits (null clears one). The change is announced as an org change, so every
 * cached principal of the org (auth's and the proxies') is dropped and the next request sees it.
 */
export const setOrgLimits = (actor: UsageActor, ref: string, input: OrgLimitsInput) =>
  Effect.gen(function* () {
    const orgId = yield* usageOrg(actor, "SetOrgLimits", ref)
    const limits = yield* checkLimits(input)
    const stored = yield* (yield* OrgLimitsStore).set(orgId, limits)
    if (Option.isNone(stored)) return yield* orgNotFound()
    const log = yield* AuditLog
    yield* actor.kind === "tenant"
      ? log.record({
          type: "org_limits_set",
          orgId,
          actorTokenId: actor.principal.tokenId,
          tokensPerMinute: stored.value.tokensPerMinute,
          monthlyBudgetMicroUsd: stored.value.monthlyBudgetMicroUsd
        })
      : log.record({
          type: "platform_action",
          actor: actorLabel(actor),
          operation: "SetOrgLimits",
          orgId,
          targetId: null
        })
    return yield* withSpend(orgId, stored.value)
  }).pipe(Effect.withSpan("Usage.setLimits"))
