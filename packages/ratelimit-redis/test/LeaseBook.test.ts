import { describe, expect, it } from "@effect/vitest"
import { type RateLimitDecision, RateLimiterUnavailable } from "@ibex/domain"
import { Either } from "effect"
import fc from "fast-check"
import {
  defaultLeaseOptions,
  type Grant,
  type GrantCall,
  type LeaseOptions,
  leaseUnits,
  makeLeaseBook
} from "../src/LeaseBook.js"

type Outcome = Either.Either<RateLimitDecision, RateLimiterUnavailable>

/** A book over a hand-driven grant call and clock: the test decides what each grant answers, and when. */
const harness = (want = 16, options: Partial<LeaseOptions> = {}) => {
  let clock = 0
  const pending: Array<{ want: number; done: Parameters<GrantCall>[4] }> = []
  const book = makeLeaseBook({
    ...defaultLeaseOptions,
    ...options,
    now: () => clock,
    grant: (_key, _limit, _windowMs, want, done) => pending.push({ want, done })
  })
  const outcomes: Array<Outcome> = []
  const take = (n = 1) => {
    for (let i = 0; i < n; i++) book.take("k", 1_000_000, 60_000, want, (r) => outcomes.push(r))
  }
  const allow = (granted: number, remaining = 1_000): Grant => ({
    decision: { allowed: true, limit: 1_000_000, remaining, resetAtMs: 0, retryAfterMs: 0 },
    granted
  })
  const settle = (result: Either.Either<Grant, RateLimiterUnavailable>) => {
    const call = pending.shift()
    if (call === undefined) throw new Error("no grant in flight")
    call.done(result)
  }
  const admitted = () => outcomes.filter((o) => Either.isRight(o) && o.right.allowed).length
  return {
    take,
    allow,
    settle,
    pending,
    outcomes,
    admitted,
    advance: (ms: number) => {
      clock += ms
    }
  }
}

describe("leaseUnits", () => {
  it("leases only for a high limit, at most one millisecond of the org's rate and 64 units", () => {
    expect(leaseUnits(60, 60_000, defaultLeaseOptions), "the default limit: no lease").toBe(1)
    expect(leaseUnits(119_999, 60_000, defaultLeaseOptions)).toBe(1)
    expect(leaseUnits(120_000, 60_000, defaultLeaseOptions)).toBe(2)
    expect(leaseUnits(1_000_000, 60_000, defaultLeaseOptions)).toBe(16)
    expect(leaseUnits(1_000_000_000, 60_000, defaultLeaseOptions)).toBe(64)
    expect(leaseUnits(1_000_000_000, 60_000, { ...defaultLeaseOptions, maxUnits: 1 }), "turned off").toBe(1)
  })
})

describe("LeaseBook", () => {
  it("one grant answers as many requests as it granted; the refill starts at half, before they run out", () => {
    const h = harness()
    h.take()
    expect(h.pending.map((p) => p.want)).toEqual([16])
    expect(h.outcomes, "the first request waits for the grant").toEqual([])
    h.settle(Either.right(h.allow(16)))
    expect(h.admitted()).toBe(1)
    h.take(6)
    expect(h.admitted()).toBe(7)
    expect(h.pending, "9 units left: no refill yet").toHaveLength(0)
    h.take()
    expect(h.pending, "8 left, half a grant: one refill").toHaveLength(1)
    h.take(8)
    expect(h.admitted(), "served from what was left while the refill is out").toBe(16)
    expect(h.pending).toHaveLength(1)
    h.take(2)
    expect(h.admitted(), "none left: these two wait").toBe(16)
    h.settle(Either.right(h.allow(16)))
    expect(h.admitted()).toBe(18)
    expect(h.outcomes.every((o) => Either.isRight(o) && o.right.allowed)).toBe(true)
  })

  it("never admits more than was granted, and never a unit past its own grant's deadline", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant("take" as const), n: fc.integer({ min: 1, max: 6 }) }),
            fc.record({ op: fc.constant("grant" as const), n: fc.integer({ min: 1, max: 4 }) }),
            fc.record({ op: fc.constant("refuse" as const) }),
            fc.record({ op: fc.constant("fail" as const) }),
            fc.record({ op: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 150 }) })
          ),
          { maxLength: 60 }
        ),
        (ops) => {
          // Small grants (4 units), so refills, partial grants and lapses all happen in a few steps.
          const h = harness(4)
          // Each grant's units and deadline, oldest first, as the rule says they may be used.
          let clock = 0
          const grants: Array<{ left: number; until: number }> = []
          let lateUses = 0
          let uses = 0
          const observe = (before: number) => {
            // Every admission is charged to a live grant, oldest first; one with none live is a late use.
            for (let i = before; i < h.admitted(); i++) {
              uses++
              const g = grants.find((x) => x.left > 0 && clock < x.until)
              if (g === undefined) lateUses++
              else g.left--
            }
          }
          for (const o of ops) {
            const before = h.admitted()
            if (o.op === "take") h.take(o.n)
            else if (o.op === "advance") {
              clock += o.ms
              h.advance(o.ms)
            } else if (h.pending.length > 0) {
              if (o.op === "grant") {
                // A grant's units beyond the last two generations are dropped by the book.
                grants.push({ left: o.n, until: clock + defaultLeaseOptions.ttlMs })
                if (grants.length > 2) grants.splice(0, grants.length - 2)
                h.settle(Either.right(h.allow(o.n)))
              } else if (o.op === "refuse")
                h.settle(
                  Either.right({
                    decision: { allowed: false, limit: 1_000_000, remaining: 0, resetAtMs: 0, retryAfterMs: 5 },
                    granted: 0
                  })
                )
              else h.settle(Either.left(new RateLimiterUnavailable()))
            }
            observe(before)
          }
          expect(lateUses, "an admission with no live granted unit behind it").toBe(0)
          expect(uses).toBe(h.admitted())
        }
      ),
      { numRuns: 2000 }
    )
  })

  it("units unused past the deadline are dropped: the next request waits for a new grant", () => {
    const h = harness()
    h.take()
    h.settle(Either.right(h.allow(16)))
    h.advance(defaultLeaseOptions.ttlMs)
    h.take()
    expect(h.admitted(), "15 units lapsed; not used").toBe(1)
    expect(h.pending).toHaveLength(1)
    h.settle(Either.right(h.allow(1)))
    expect(h.admitted()).toBe(2)
  })

  it("a refill keeps the last grant's units under their own deadline and drops the ones before it", () => {
    const h = harness()
    h.take()
    h.settle(Either.right(h.allow(16))) // t = 0: 16 units until t = 100
    h.take(7)
    expect(h.pending, "8 left: refill out").toHaveLength(1)
    h.advance(60)
    h.settle(Either.right(h.allow(16))) // t = 60: 8 left until 100, 16 more until 160
    h.advance(45) // t = 105: the first grant's 8 have lapsed
    h.take(30)
    expect(h.admitted(), "1 + 7, then only the second grant's 16").toBe(24)

    const g = harness()
    g.take()
    g.settle(Either.right(g.allow(16))) // t = 0: until 100
    g.take(7) // 8 left, refill out
    g.advance(10)
    g.settle(Either.right(g.allow(1))) // t = 10: a grant of 1 (the burst was nearly spent), until 110
    g.take() // uses one of the first grant's; 7 + 1 left: refill out again
    g.advance(10)
    g.settle(Either.right(g.allow(16))) // t = 20: the first grant's 7 are dropped (a third generation)
    g.take(30)
    expect(g.admitted(), "1 + 7 + 1, then the second grant's 1 and the third's 16").toBe(26)
  })

  it("a waiter whose callback throws does not leave the ones after it unanswered", () => {
    const errors: Array<unknown> = []
    const pending: Array<Parameters<GrantCall>[4]> = []
    const book = makeLeaseBook({
      ...defaultLeaseOptions,
      now: () => 0,
      reportError: (e) => errors.push(e),
      grant: (_key, _limit, _windowMs, _want, done) => pending.push(done)
    })
    const answered: Array<number> = []
    for (let i = 0; i < 3; i++)
      book.take("k", 1_000_000, 60_000, 16, () => {
        answered.push(i)
        if (i === 0) throw new Error("boom")
      })
    pending[0]?.(
      Either.right({
        decision: { allowed: true, limit: 1_000_000, remaining: 9, resetAtMs: 0, retryAfterMs: 0 },
        granted: 16
      })
    )
    expect(answered).toEqual([0, 1, 2])
    expect(errors.map((e) => (e as Error).message)).toEqual(["boom"])
  })

  it("a grant smaller than the queue answers what it can and asks again for the rest", () => {
    const h = harness()
    h.take(5)
    expect(h.pending).toHaveLength(1)
    h.settle(Either.right(h.allow(3)))
    expect(h.admitted()).toBe(3)
    expect(h.pending, "two still waiting: one more grant").toHaveLength(1)
    h.settle(Either.right(h.allow(2)))
    expect(h.admitted()).toBe(5)
  })

  it("a refusal refuses everyone waiting with Redis's answer; a failure hands each the failure", () => {
    const h = harness()
    h.take(3)
    h.settle(
      Either.right({
        decision: { allowed: false, limit: 1_000_000, remaining: 0, resetAtMs: 9, retryAfterMs: 7 },
        granted: 0
      })
    )
    expect(h.outcomes.map((o) => Either.isRight(o) && o.right.retryAfterMs)).toEqual([7, 7, 7])
    expect(h.admitted()).toBe(0)
    h.take(2)
    h.settle(Either.left(new RateLimiterUnavailable()))
    expect(h.outcomes.slice(3).map(Either.isLeft)).toEqual([true, true])
  })
})
