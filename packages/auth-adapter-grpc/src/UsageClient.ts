import { type ChannelOptions, Metadata, type ServiceError, status } from "@grpc/grpc-js"
import type { OrgLimitsInput, OrgLimitsView, UsageReport } from "@ibex/auth-core"
import {
  OrgAccessDenied,
  type RecordedUsage,
  ServiceDegraded,
  type UsageGroupBy,
  type UsageRecord,
  ValidationFailed
} from "@ibex/domain"
import { Context, Effect, Layer, type Redacted } from "effect"
import { defaultChannelOptions } from "./AuthClient.js"
import { type OrgLimitsInfo, UsageServiceClient } from "./gen/ibex/auth/v1/usage.js"
import { type ManagementError, managementError, REASON_TRAILER, trailer } from "./status.js"
import { channelCredentials, type TlsMaterial, tlsChannelOptions } from "./tls.js"
import { groupByToWire, limitsFromWire, reportFromWire, usageRecordToWire } from "./UsageWire.js"
import { bearerMetadata, callUnary, type UnaryMethod } from "./unaryClient.js"

export interface UsageClientConfig {
  /** The auth server, `host:port`. */
  readonly target: string
  /** RecordUsage's and GetMonthSpend's deadline. Default 5000 ms. */
  readonly recordDeadlineMs?: number | undefined
  /** Deadline of the other calls. Default 15 s (a platform-admin credential costs one Argon2id verification). */
  readonly deadlineMs?: number | undefined
  /** Extra or overriding grpc-js channel options. */
  readonly channelOptions?: ChannelOptions | undefined
  /** Mutual TLS (the proxy's certificate for RecordUsage; the CLI's for the rest). Unset: plaintext. */
  readonly tls?: TlsMaterial | undefined
}

/** The failures of the authenticated calls: the management ones, plus a PAT naming another org. */
export type UsageCallError = ManagementError | OrgAccessDenied

export interface UsageQueryArgs {
  /** Platform admins: the org's id or exact name. A PAT: omit (its own org). */
  readonly org?: string | undefined
  /** Inclusive; omitted: the start of the current UTC month. */
  readonly since?: Date | null | undefined
  /** Exclusive; omitted: now. */
  readonly until?: Date | null | undefined
  readonly groupBy: UsageGroupBy
}

export interface UsageClientShape {
  /**
   * Ships one batch (RecordUsage, no credential: the proxies' internal call). ValidationFailed is
   * final (the batch was refused as a whole; sending it again gets the same answer); ServiceDegraded
   * means "not known to be stored": send it again, it is idempotent per record.
   */
  readonly record: (
    batch: ReadonlyArray<UsageRecord>
  ) => Effect.Effect<RecordedUsage, ValidationFailed | ServiceDegraded>
  /**
   * GetMonthSpend (no credential: the proxies' internal call): the org's recorded spend in the UTC
   * month `YYYY-MM`, micro-USD. Any failure is ServiceDegraded: the caller cannot know the spend.
   */
  readonly monthSpend: (orgId: string, month: string) => Effect.Effect<number, ServiceDegraded>
  /** QueryUsage as `bearer` (a PAT with `usage:read`, or a platform-admin credential with `org`). */
  readonly query: (
    bearer: Redacted.Redacted<string>,
    args: UsageQueryArgs
  ) => Effect.Effect<UsageReport, UsageCallError>
  /** GetOrgLimits as `bearer` (a PAT with `budget:manage`, or a platform-admin credential with `org`). */
  readonly getLimits: (
    bearer: Redacted.Redacted<string>,
    org?: string | undefined
  ) => Effect.Effect<OrgLimitsView, UsageCallError>
  /** SetOrgLimits: replaces both limits (null clears one). */
  readonly setLimits: (
    bearer: Redacted.Redacted<string>,
    limits: OrgLimitsInput,
    org?: string | undefined
  ) => Effect.Effect<OrgLimitsView, UsageCallError>
}

export class UsageClient extends Context.Tag("@ibex/auth-adapter-grpc/UsageClient")<UsageClient, UsageClientShape>() {}

/** 500 records of ~1.1 KB at most (the server's MAX_REQUEST_BYTES is 1 MiB); reports can be long. */
export const usageChannelOptions: ChannelOptions = {
  ...defaultChannelOptions,
  "grpc.max_send_message_length": 1024 * 1024,
  "grpc.max_receive_message_length": 4 * 1024 * 1024
}

/** PERMISSION_DENIED without `ibex-reason: INSUFFICIENT_PERMISSIONS` is a PAT naming another org. */
const callError = (error: ServiceError): UsageCallError =>
  error.code === status.PERMISSION_DENIED && trailer(error, REASON_TRAILER) !== "INSUFFICIENT_PERMISSIONS"
    ? new OrgAccessDenied()
    : managementError(error)

const required = (info: OrgLimitsInfo | undefined): Effect.Effect<OrgLimitsView> =>
  info === undefined
    ? Effect.die(new Error("UsageService answered without its limits"))
    : Effect.succeed(limitsFromWire(info))

const wireInteger = (value: number | null, max: number) =>
  value === null || (Number.isInteger(value) && value >= 0 && value <= max)

/** The UsageService client on one channel, closed with the layer's scope. */
export const makeUsageClient = (config: UsageClientConfig) =>
  Effect.gen(function* () {
    const client = yield* Effect.acquireRelease(
      Effect.sync(
        () =>
          new UsageServiceClient(config.target, channelCredentials(config.tls), {
            ...usageChannelOptions,
            ...tlsChannelOptions(config.tls),
            ...config.channelOptions
          })
      ),
      (c) => Effect.sync(() => c.close())
    )
    const recordDeadlineMs = config.recordDeadlineMs ?? 5_000
    const deadlineMs = config.deadlineMs ?? 15_000
    const call = <Req, Res>(
      name: string,
      method: UnaryMethod<Req, Res>,
      request: Req,
      bearer: Redacted.Redacted<string>
    ) =>
      callUnary(method.bind(client), request, deadlineMs, bearerMetadata(bearer)).pipe(
        Effect.mapError(callError),
        Effect.withSpan(`UsageClient.${name}`, { kind: "client" })
      )

    return UsageClient.of({
      record: (batch) =>
        batch.length === 0
          ? Effect.succeed({ inserted: 0, duplicates: 0 })
          : callUnary(
              client.recordUsage.bind(client),
              { records: batch.map(usageRecordToWire) },
              recordDeadlineMs,
              new Metadata()
            ).pipe(
              Effect.map((r) => ({ inserted: r.inserted, duplicates: r.duplicates })),
              Effect.mapError((error) =>
                error.code === status.INVALID_ARGUMENT
                  ? new ValidationFailed({ fieldErrors: [] })
                  : new ServiceDegraded()
              ),
              Effect.withSpan("UsageClient.RecordUsage", {
                kind: "client",
                attributes: { "ibex.usage.batch_size": batch.length }
              })
            ),
      monthSpend: (orgId, month) =>
        callUnary(client.getMonthSpend.bind(client), { orgId, month }, recordDeadlineMs, new Metadata()).pipe(
          Effect.map((r) => Number(r.spendMicroUsd)),
          Effect.mapError(() => new ServiceDegraded()),
          Effect.withSpan("UsageClient.GetMonthSpend", { kind: "client" })
        ),
      query: (bearer, args) =>
        call(
          "QueryUsage",
          client.queryUsage,
          {
            org: args.org ?? "",
            since: args.since ?? undefined,
            until: args.until ?? undefined,
            groupBy: groupByToWire(args.groupBy)
          },
          bearer
        ).pipe(Effect.map(reportFromWire)),
      getLimits: (bearer, org) =>
        call("GetOrgLimits", client.getOrgLimits, { org: org ?? "" }, bearer).pipe(
          Effect.flatMap((r) => required(r.limits))
        ),
      setLimits: (bearer, limits, org) =>
        // The wire's integers would truncate a fraction or wrap a negative silently: refuse them here.
        !wireInteger(limits.tokensPerMinute, 0xffff_ffff) ||
        !wireInteger(limits.monthlyBudgetMicroUsd, Number.MAX_SAFE_INTEGER)
          ? Effect.fail(new ValidationFailed({ fieldErrors: [] }))
          : call(
              "SetOrgLimits",
              client.setOrgLimits,
              {
                org: org ?? "",
                ...(limits.tokensPerMinute === null ? {} : { tokensPerMinute: limits.tokensPerMinute }),
                ...(limits.monthlyBudgetMicroUsd === null
                  ? {}
                  : { monthlyBudgetMicroUsd: BigInt(limits.monthlyBudgetMicroUsd) })
              },
              bearer
            ).pipe(Effect.flatMap((r) => required(r.limits)))
    })
  })

/** The client and its channel; the channel closes when the layer is released. */
export const UsageClientLive = (config: UsageClientConfig): Layer.Layer<UsageClient> =>
  Layer.scoped(UsageClient, makeUsageClient(config))
