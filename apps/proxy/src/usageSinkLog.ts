import { type UsageRecord, UsageSink } from "@ibex/domain"
import { Effect, Layer, Runtime } from "effect"

/**
 * Usage records as structured log lines (`event: "usage"`): the sink while records are not yet
 * shipped to auth's store. One line per forwarded request, through the app's JSON logger.
 */
export const UsageSinkLog: Layer.Layer<UsageSink> = Layer.effect(
  UsageSink,
  Effect.map(Effect.runtime<never>(), (runtime) => {
    const run = Runtime.runFork(runtime)
    return {
      offer: (record: UsageRecord) => {
        run(
          Effect.logInfo({
            event: "usage",
            usage_id: record.requestId,
            org_id: record.orgId,
            agent_id: record.agentId,
            model: record.model,
            provider: record.provider,
            upstream_model: record.upstreamModel,
            prompt_tokens: record.promptTokens,
            completion_tokens: record.completionTokens,
            cached_tokens: record.cachedTokens,
            estimated: record.estimated,
            cost_micro_usd: record.costMicroUsd,
            status: record.status
          })
        )
      }
    }
  })
)
