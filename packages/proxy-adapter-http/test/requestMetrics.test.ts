import fc from "fast-check"
import { Counter, Histogram, Registry } from "prom-client"
import { describe, expect, it } from "vitest"
import { makeRequestMetrics } from "../src/RequestMetrics.js"

/** The same metrics as prom-client builds them when every update goes through it (the reference). */
const reference = () => {
  const registry = new Registry()
  const labelNames = ["method", "route", "status"] as const
  const requests = new Counter({
    name: "ibex_proxy_http_requests_total",
    help: "HTTP requests by method, route template and status.",
    labelNames,
    registers: [registry]
  })
  const latency = new Histogram({
    name: "ibex_proxy_http_request_duration_seconds",
    help: "HTTP request latency by method, route template and status.",
    labelNames,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry]
  })
  const auth = new Counter({
    name: "ibex_proxy_auth_outcomes_total",
    help: "Outcomes of the protected-route chain: ok, or the error code that stopped it.",
    labelNames: ["outcome"],
    registers: [registry]
  })
  const rate = new Counter({
    name: "ibex_proxy_ratelimit_decisions_total",
    help: "Rate-limit decisions: allowed, denied, or fail_open when the limiter was unavailable.",
    labelNames: ["decision"],
    registers: [registry]
  })
  return {
    registry,
    observe: (method: string, route: string, status: number, seconds: number) => {
      const labels = { method, route, status: String(status) }
      requests.inc(labels)
      latency.observe(labels, seconds)
    },
    auth: (outcome: string) => auth.inc({ outcome }),
    rate: (decision: string) => rate.inc({ decision })
  }
}

type Update =
  | {
      readonly kind: "request"
      readonly method: string
      readonly route: string
      readonly status: number
      readonly s: number
    }
  | { readonly kind: "auth"; readonly outcome: string }
  | { readonly kind: "rate"; readonly decision: "allowed" | "denied" | "fail_open" }

const update: fc.Arbitrary<Update> = fc.oneof(
  fc.record({
    kind: fc.constant("request" as const),
    method: fc.constantFrom("GET", "POST"),
    route: fc.constantFrom("/health", "/v1/chat/completions", "unmatched"),
    status: fc.constantFrom(200, 401, 404, 503),
    // Bucket bounds exactly, and values between and beyond them.
    s: fc.oneof(fc.constantFrom(0, 0.0005, 0.001, 0.1, 2.5, 3), fc.double({ min: 0, max: 5, noNaN: true }))
  }),
  fc.record({ kind: fc.constant("auth" as const), outcome: fc.constantFrom("ok", "INVALID_TOKEN") }),
  fc.record({ kind: fc.constant("rate" as const), decision: fc.constantFrom("allowed" as const, "denied" as const) })
)

describe("request metrics", () => {
  it("expose exactly what prom-client exposes for the same updates, scrape after scrape", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(update, { maxLength: 30 }), { minLength: 1, maxLength: 3 }),
        async (rounds) => {
          const ours = new Registry()
          const metrics = makeRequestMetrics(ours)
          const theirs = reference()
          for (const round of rounds) {
            for (const u of round) {
              if (u.kind === "request") {
                metrics.observeRequest(u.method, u.route, u.status, u.s)
                theirs.observe(u.method, u.route, u.status, u.s)
              } else if (u.kind === "auth") {
                metrics.authOutcome(u.outcome)
                theirs.auth(u.outcome)
              } else {
                metrics.rateLimitDecision(u.decision)
                theirs.rate(u.decision)
              }
            }
            expect(await ours.metrics()).toBe(await theirs.registry.metrics())
          }
        }
      ),
      { numRuns: 60 }
    )
  })

  it("an unknown method is one OTHER series", async () => {
    const registry = new Registry()
    const metrics = makeRequestMetrics(registry)
    metrics.observeRequest("BREW", "unmatched", 405, 0.001)
    metrics.observeRequest("PROPFIND", "unmatched", 405, 0.001)
    const text = await registry.metrics()
    expect(text).toContain('ibex_proxy_http_requests_total{method="OTHER",route="unmatched",status="405"} 2')
    expect(text).not.toContain("BREW")
  })
})
