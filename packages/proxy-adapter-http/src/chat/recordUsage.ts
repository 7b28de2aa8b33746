import type { AuthorizedRequest, ModelPricing, Usage, UsageLimiterShape, UsageSinkShape } from "@ibex/domain"
import { type Principal, UsageLimiter, type UsageReservation, UsageSink } from "@ibex/domain"
import { Effect, Option } from "effect"
import { addLogField, newRequestId, type RequestState } from "../edge/RequestState.js"
import type { ProxyMetrics } from "../Metrics.js"
import type { ChatIntent } from "./chatRequest.js"
import { costOf, type Meter, newMeter, usageRecordOf } from "./metering.js"

export interface UsageInput {
  readonly usageId: string
  readonly principal: Principal
  readonly agentId: string
  readonly intent: ChatIntent
  readonly reservation: UsageReservation
  readonly counted: boolean
  readonly pricing: Option.Option<ModelPricing>
  readonly meter: Meter
  readonly state: RequestState
  readonly metrics: ProxyMetrics
}

/**
 * A forwarded request's usage, begun once it was admitted: a meter for what the forward stage
 * learns, and a record id of our own (the usage record's idempotency key: a client's
 * X-Request-ID can repeat), also on the access line.
 */
export const beginUsage = (
  state: RequestState,
  authorized: AuthorizedRequest,
  intent: ChatIntent,
  reservation: UsageReservation,
  counted: boolean,
  pricing: Option.Option<ModelPricing>,
  metrics: ProxyMetrics
): UsageInput => {
  const usageId = newRequestId()
  addLogField(state, "usage_id", usageId)
  return {
    usageId,
    principal: authorized.principal,
    agentId: authorized.agentId,
    intent,
    reservation,
    counted,
    pricing,
    meter: newMeter(),
    state,
    metrics
  }
}

const noUsage = { promptTokens: 0, completionTokens: 0, cachedTokens: 0, totalTokens: 0 }

/** What the request used and cost: the provider's report (or the estimate), nothing if no provider answered. */
const usedBy = (input: UsageInput) => {
  const usage = Option.getOrElse(input.meter.usage, () => noUsage)
  return { usage, cost: costOf(usage, input.pricing) }
}

/** The usage record of a request some target was tried for, priced at that target. */
const ship = (input: UsageInput, sink: UsageSinkShape, usage: Usage, cost: number) => {
  const { meter, state } = input
  if (meter.target === undefined) return
  const status = state.status === 0 ? 499 : state.status
  sink.offer(
    usageRecordOf({
      id: input.usageId,
      principal: input.principal,
      agentId: input.agentId,
      intent: input.intent,
      target: meter.target,
      usage,
      estimated: meter.estimated,
      costMicroUsd: cost,
      status,
      latencyMs: performance.now() - state.started,
      firstChunkMs: meter.firstChunkMs
    })
  )
  input.metrics.cost(meter.target.provider.id, meter.target.model, cost, input.principal.orgId)
}

/**
 * When a forwarded request ends, however it ends: its reservation is replaced by what it used
 * (nothing, if no provider answered), and one usage record goes to the sink (the request that
 * was forwarded, priced at the target that served it).
 */
export const recordUsage = (input: UsageInput): Effect.Effect<void, never, UsageLimiter | UsageSink> =>
  Effect.gen(function* () {
    const { usage, cost } = usedBy(input)
    if (input.counted) {
      const limiter = yield* UsageLimiter
      // A settle that fails leaves the reservation counted: the org is over-charged in the
      // counter for a minute (tokens) or the month (spend), never under-charged.
      yield* Effect.ignore(limiter.settle(input.reservation, { tokens: usage.totalTokens, costMicroUsd: cost }))
    }
    ship(input, yield* UsageSink, usage, cost)
  })

/**
 * `recordUsage` without a fiber (the warm path): the settle goes through the limiter's callback,
 * and its answer is not waited for (a failed settle over-charges, as above).
 */
export const recordUsageNow = (input: UsageInput, limiter: UsageLimiterShape, sink: UsageSinkShape): boolean => {
  if (input.counted && limiter.settleNow === undefined) return false
  const { usage, cost } = usedBy(input)
  if (input.counted)
    limiter.settleNow?.(input.reservation, { tokens: usage.totalTokens, costMicroUsd: cost }, () => undefined)
  ship(input, sink, usage, cost)
  return true
}
