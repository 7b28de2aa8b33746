import { Schema } from "effect"

/**
 * One forwarded request's usage, as the proxy reports it and auth stores it. `requestId` is the
 * idempotency key: a record sent twice (a retried batch, a proxy that restarted mid-send) is
 * stored once. Costs are integer micro-USD (1e-6 USD), so sums are exact.
 */
export class UsageRecord extends Schema.Class<UsageRecord>("UsageRecord")({
  requestId: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128)),
  orgId: Schema.UUID,
  agentId: Schema.UUID,
  tokenId: Schema.UUID,
  /** The client-visible model name. */
  model: Schema.String,
  /** The routing config's provider id that served it. */
  provider: Schema.String,
  upstreamModel: Schema.String,
  promptTokens: Schema.Int.pipe(Schema.nonNegative()),
  completionTokens: Schema.Int.pipe(Schema.nonNegative()),
  cachedTokens: Schema.Int.pipe(Schema.nonNegative()),
  /** True when the provider reported no usage and the proxy counted it from what was delivered. */
  estimated: Schema.Boolean,
  costMicroUsd: Schema.Int.pipe(Schema.nonNegative()),
  /** The HTTP status the client got (499: the client went away). */
  status: Schema.Int,
  latencyMs: Schema.Int.pipe(Schema.nonNegative()),
  /** Streams only: time to the first chunk written. */
  timeToFirstTokenMs: Schema.NullOr(Schema.Int.pipe(Schema.nonNegative())),
  stream: Schema.Boolean,
  createdAt: Schema.DateFromSelf
}) {}

/** An org's spending and token limits; null: no limit. */
export class OrgLimits extends Schema.Class<OrgLimits>("OrgLimits")({
  tokensPerMinute: Schema.NullOr(Schema.Int.pipe(Schema.positive())),
  monthlyBudgetMicroUsd: Schema.NullOr(Schema.Int.pipe(Schema.nonNegative()))
}) {}

export const UsageGroupBy = Schema.Literal("model", "agent", "day", "provider")
export type UsageGroupBy = typeof UsageGroupBy.Type

/** One row of a usage report: the sums of the records in one group. */
export interface UsageTotals {
  readonly key: string
  readonly requests: number
  readonly promptTokens: number
  readonly completionTokens: number
  readonly cachedTokens: number
  readonly costMicroUsd: number
  readonly estimatedRequests: number
}
