import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { monthOf } from "../src/ports/UsageLimiter.js"

const iso = (ms: number) => new Date(ms).toISOString().slice(0, 7)

describe("monthOf", () => {
  it("is the UTC month of any instant, asked in any order (the remembered month never leaks)", () =>
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: Date.UTC(2200, 0, 1) }), { minLength: 1, maxLength: 50 }), (xs) =>
        xs.every((ms) => monthOf(ms) === iso(ms))
      )
    ))

  it("turns at the first millisecond of a month, not a millisecond late", () => {
    const boundary = Date.UTC(2026, 11, 1)
    expect(monthOf(boundary - 1)).toBe("2026-11")
    expect(monthOf(boundary)).toBe("2026-12")
    expect(monthOf(boundary - 1)).toBe("2026-11")
    expect(monthOf(Date.UTC(2027, 0, 1) - 1)).toBe("2026-12")
    expect(monthOf(Date.UTC(2027, 0, 1))).toBe("2027-01")
  })
})
