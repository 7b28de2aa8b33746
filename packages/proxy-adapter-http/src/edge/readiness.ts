import { Duration, Effect } from "effect"
import type { ProxyMetrics } from "../Metrics.js"
import type { ProxyConfigShape, ReadinessProbe } from "../ProxyConfig.js"

export interface ReadinessReport {
  readonly status: number
  readonly body: { readonly status: string; readonly checks: Record<string, { status: string }> }
}

/**
 * GET /ready: every probe within its budget; ready unless a critical one is down. A draining
 * instance is not ready whatever its dependencies say.
 */
export const makeReadiness = (
  config: ProxyConfigShape,
  metrics: ProxyMetrics,
  draining: () => boolean
): Effect.Effect<ReadinessReport> => {
  const runProbe = (probe: ReadinessProbe) =>
    probe.check === null
      ? Effect.succeed([probe.name, "disabled"] as const)
      : probe.check.pipe(
          Effect.timeoutTo({
            duration: Duration.millis(config.readinessTimeoutMs),
            onSuccess: (ok) => ok,
            onTimeout: () => false
          }),
          Effect.catchAllCause(() => Effect.succeed(false)),
          Effect.map((ok) => [probe.name, ok ? "up" : "down"] as const)
        )
  const critical = new Set(config.readiness.filter((p) => p.critical !== false).map((p) => p.name))
  return Effect.gen(function* () {
    const results = yield* Effect.all(config.readiness.map(runProbe), { concurrency: "unbounded" })
    const checks: Record<string, { status: string }> = {}
    for (const [name, status] of results) {
      checks[name] = { status }
      metrics.dependencyUp(name, status === "disabled" ? null : status === "up")
    }
    if (draining()) return { status: 503, body: { status: "draining", checks } }
    const isReady = results.every(([name, status]) => status !== "down" || !critical.has(name))
    return { status: isReady ? 200 : 503, body: { status: isReady ? "ready" : "not_ready", checks } }
  })
}
