import type { Usage } from "@ibex/domain"
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client"
import { makeRequestMetrics } from "./RequestMetrics.js"

/**
 * The proxy's Prometheus metrics, on a registry of its own (one per server, so several
 * servers in one process never collide). Every label value comes from a closed set: route
 * templates (never raw paths), status codes, methods, error codes, decisions. Nothing a client
 * typed can become a label.
 */
export interface ProxyMetrics {
  readonly registry: Registry
  readonly observeRequest: (method: string, route: string, status: number, seconds: number) => void
  readonly authOutcome: (outcome: string) => void
  readonly rateLimitDecision: (decision: "allowed" | "denied" | "fail_open") => void
  /** Set by each /ready probe: 1 up, 0 down; a disabled dependency (null) has no series. */
  readonly dependencyUp: (dependency: string, up: boolean | null) => void
  /** One attempt at a provider target: ok or the failure's kind. Labels come from the routing config only. */
  readonly upstreamAttempt: (provider: string, model: string, outcome: string, seconds: number) => void
  readonly upstreamRetry: (provider: string, model: string) => void
  readonly upstreamFallback: (provider: string, model: string) => void
  readonly upstreamStreamFailure: (provider: string, model: string, failure: string) => void
  readonly timeToFirstChunk: (provider: string, model: string, seconds: number) => void
  /** `orgId` is a label only with `orgLabel` on (cardinality: one series per tenant). */
  readonly tokens: (provider: string, model: string, usage: Usage, orgId: string) => void
  readonly cost: (provider: string, model: string, microUsd: number, orgId: string) => void
  /** Token-limit and budget admissions: admitted, tokens_exceeded, budget_exceeded, unavailable. */
  readonly usageAdmission: (outcome: string) => void
}

export const makeProxyMetrics = (options: {
  readonly processMetrics: boolean
  /** Per-org token and cost counters (`ibex_proxy_org_*`); off by default: one series per tenant. */
  readonly orgLabel?: boolean
}): ProxyMetrics => {
  const registry = new Registry()
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: "ibex_proxy_" })
  const perRequest = makeRequestMetrics(registry)
  const dependency = new Gauge({
    name: "ibex_dependency_up",
    help: "Whether a dependency answered its last /ready probe (1 up, 0 down), by dependency name.",
    labelNames: ["dependency"] as const,
    registers: [registry]
  })
  const upstreamLatency = new Histogram({
    name: "ibex_proxy_upstream_duration_seconds",
    help: "Time of each attempt at a provider, to its whole answer or a stream's first chunk, by provider, upstream model and outcome.",
    labelNames: ["provider", "model", "outcome"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry]
  })
  const upstreamErrors = new Counter({
    name: "ibex_proxy_upstream_errors_total",
    help: "Failed provider attempts and broken streams, by provider, upstream model and failure kind.",
    labelNames: ["provider", "model", "error"] as const,
    registers: [registry]
  })
  const retries = new Counter({
    name: "ibex_proxy_upstream_retries_total",
    help: "Retries of the same provider target.",
    labelNames: ["provider", "model"] as const,
    registers: [registry]
  })
  const fallbacks = new Counter({
    name: "ibex_proxy_upstream_fallbacks_total",
    help: "Fallbacks away from a provider target to the next one.",
    labelNames: ["provider", "model"] as const,
    registers: [registry]
  })
  const ttfc = new Histogram({
    name: "ibex_proxy_upstream_time_to_first_chunk_seconds",
    help: "Time from the start of the attempt that served a stream to its first chunk written to the client.",
    labelNames: ["provider", "model"] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry]
  })
  const tokenCounter = new Counter({
    name: "ibex_proxy_tokens_total",
    help: "Tokens reported by providers, by provider, upstream model and kind (prompt, completion, cached).",
    labelNames: ["provider", "model", "kind"] as const,
    registers: [registry]
  })
  const costCounter = new Counter({
    name: "ibex_proxy_cost_micro_usd_total",
    help: "Cost of forwarded requests in micro-USD (routing config prices), by provider and upstream model.",
    labelNames: ["provider", "model"] as const,
    registers: [registry]
  })
  const admissions = new Counter({
    name: "ibex_proxy_usage_admissions_total",
    help: "Token-limit and budget decisions at admission: admitted, tokens_exceeded, budget_exceeded, unavailable.",
    labelNames: ["outcome"] as const,
    registers: [registry]
  })
  const orgTokens = options.orgLabel
    ? new Counter({
        name: "ibex_proxy_org_tokens_total",
        help: "Tokens by org, provider, upstream model and kind (PROXY_METRICS_ORG_LABEL).",
        labelNames: ["org", "provider", "model", "kind"] as const,
        registers: [registry]
      })
    : undefined
  const orgCost = options.orgLabel
    ? new Counter({
        name: "ibex_proxy_org_cost_micro_usd_total",
        help: "Cost in micro-USD by org, provider and upstream model (PROXY_METRICS_ORG_LABEL).",
        labelNames: ["org", "provider", "model"] as const,
        registers: [registry]
      })
    : undefined
  return {
    registry,
    cost: (provider, model, microUsd, org) => {
      if (microUsd <= 0) return
      costCounter.inc({ provider, model }, microUsd)
      orgCost?.inc({ org, provider, model }, microUsd)
    },
    usageAdmission: (outcome) => admissions.inc({ outcome }),
    upstreamAttempt: (provider, model, outcome, seconds) => {
      upstreamLatency.observe({ provider, model, outcome }, seconds)
      if (outcome !== "ok") upstreamErrors.inc({ provider, model, error: outcome })
    },
    upstreamRetry: (provider, model) => retries.inc({ provider, model }),
    upstreamFallback: (provider, model) => fallbacks.inc({ provider, model }),
    upstreamStreamFailure: (provider, model, error) => upstreamErrors.inc({ provider, model, error }),
    timeToFirstChunk: (provider, model, seconds) => ttfc.observe({ provider, model }, seconds),
    tokens: (provider, model, usage, org) => {
      tokenCounter.inc({ provider, model, kind: "prompt" }, usage.promptTokens)
      tokenCounter.inc({ provider, model, kind: "completion" }, usage.completionTokens)
      if (usage.cachedTokens > 0) tokenCounter.inc({ provider, model, kind: "cached" }, usage.cachedTokens)
      if (orgTokens !== undefined) {
        orgTokens.inc({ org, provider, model, kind: "prompt" }, usage.promptTokens)
        orgTokens.inc({ org, provider, model, kind: "completion" }, usage.completionTokens)
      }
    },
    observeRequest: perRequest.observeRequest,
    authOutcome: perRequest.authOutcome,
    rateLimitDecision: perRequest.rateLimitDecision,
    dependencyUp: (name, up) => {
      if (up === null) dependency.remove({ dependency: name })
      else dependency.set({ dependency: name }, up ? 1 : 0)
    }
  }
}
