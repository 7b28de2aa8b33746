import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import fc from "fast-check"
import { labelledUpdate, labelledUpdates } from "../src/observability/labelledMetric.js"

describe("labelledUpdate", () => {
  it("updates the same series as Metric.tagged with the same labels, in any mix and order", () =>
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.constantFrom("a", "b"), fc.nat({ max: 5 })), { maxLength: 40 }),
        (ops) => {
          const name = `labelled_${Math.random().toString(36).slice(2)}_total`
          const base = Metric.counter(name, { incremental: true })
          // One series through labelledUpdate, the other through the memoised labelledUpdates.
          const byValues = labelledUpdates(base, "method", "code")
          const direct = {
            a: labelledUpdate(base, { method: "M", code: "a" }),
            b: (n: number) => byValues("M", "b")(n)
          }
          const tagged = {
            a: Metric.tagged(Metric.tagged(base, "method", "M"), "code", "a"),
            b: Metric.tagged(Metric.tagged(base, "method", "M"), "code", "b")
          }
          const expected = { a: 0, b: 0 }
          for (const [viaHelper, code, n] of ops) {
            if (viaHelper) direct[code](n)
            else Effect.runSync(Metric.incrementBy(tagged[code], n))
            expected[code] += n
          }
          expect(Effect.runSync(Metric.value(tagged.a)).count).toBe(expected.a)
          expect(Effect.runSync(Metric.value(tagged.b)).count).toBe(expected.b)
        }
      )
    ))
})
