import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { gcra, type RateLimitPolicy, resetUnixSeconds, retryAfterSeconds } from "../src/RateLimit.js"

const policy = fc.record({
  limit: fc.integer({ min: 1, max: 10_000 }),
  windowMs: fc.integer({ min: 1_000, max: 3_600_000 })
})
const gaps = fc.array(fc.integer({ min: 0, max: 5_000 }), { minLength: 1, maxLength: 300 })

const run = (p: RateLimitPolicy, start: number, steps: ReadonlyArray<number>) => {
  let tat: number | null = null
  let now = start
  return steps.map((gap) => {
    now += gap
    const r = gcra(p, tat, now)
    tat = r.tatMs
    return { now, decision: r.decision }
  })
}

describe("rate-limit maths (GCRA)", () => {
  it("from rest, remaining after one request is exactly limit - 1 (float intervals such as 60000 / 11)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.constantFrom(1_000, 60_000, 3_600_000),
        fc.integer({ min: 0, max: 2 ** 42 }),
        (limit, windowMs, now) => {
          expect(gcra({ limit, windowMs }, null, now).decision.remaining).toBe(limit - 1)
        }
      )
    )
    expect(gcra({ limit: 11, windowMs: 60_000 }, null, 0).decision.remaining).toBe(10)
  })

  it("remaining is never negative nor above the limit; reset is in the future; retry-after within the window", () => {
    fc.assert(
      fc.property(policy, fc.integer({ min: 0, max: 2 ** 40 }), gaps, (p, start, steps) => {
        for (const { now, decision } of run(p, start, steps)) {
          expect(decision.remaining).toBeGreaterThanOrEqual(0)
          expect(decision.remaining).toBeLessThanOrEqual(p.limit)
          expect(decision.resetAtMs).toBeGreaterThan(now)
          expect(decision.resetAtMs - now).toBeLessThanOrEqual(p.windowMs + 1)
          if (decision.allowed) expect(decision.retryAfterMs).toBe(0)
          else {
            expect(decision.retryAfterMs).toBeGreaterThan(0)
            expect(decision.retryAfterMs).toBeLessThanOrEqual(p.windowMs)
            expect(retryAfterSeconds(decision)).toBeGreaterThanOrEqual(1)
            expect(retryAfterSeconds(decision)).toBeLessThanOrEqual(Math.ceil(p.windowMs / 1000))
          }
          expect(resetUnixSeconds(decision) * 1000).toBeGreaterThanOrEqual(decision.resetAtMs)
        }
      })
    )
  })

  it("never admits more than limit plus the refills a span earns (no 2x burst at a boundary)", () => {
    // GCRA's bound: within any span of length s, at most limit + floor(s / interval) admissions
    // (a full burst, then one per emission interval). A fixed window would allow 2 × limit across
    // a boundary in a span far shorter than the window; this bound rules that out.
    fc.assert(
      fc.property(policy, gaps, (p, steps) => {
        const interval = p.windowMs / p.limit
        const admitted = run(p, 1_000_000, steps)
          .filter((x) => x.decision.allowed)
          .map((x) => x.now)
        for (let i = 0; i < admitted.length; i++)
          for (let j = i; j < admitted.length; j++) {
            const span = admitted[j]! - admitted[i]!
            expect(j - i + 1).toBeLessThanOrEqual(p.limit + Math.floor((span + 0.001) / interval))
          }
      })
    )
  })

  it("admits a full burst of limit from rest, then refuses the next (SEC-4.2 shape)", () => {
    const p = { limit: 60, windowMs: 60_000 }
    const decisions = run(
      p,
      5_000_000,
      Array.from({ length: 61 }, () => 1)
    )
    expect(decisions.slice(0, 60).every((d) => d.decision.allowed)).toBe(true)
    expect(decisions.map((d) => d.decision.remaining).slice(0, 5)).toEqual([59, 58, 57, 56, 55])
    expect(decisions[60]!.decision.allowed).toBe(false)
    expect(retryAfterSeconds(decisions[60]!.decision)).toBeLessThanOrEqual(60)
  })
})
