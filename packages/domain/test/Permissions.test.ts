import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import fc from "fast-check"
import * as P from "../src/Permissions.js"

const bitmap = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((n) => P.unsafeFromBigInt(n))
const position = fc.integer({ min: 0, max: 63 })

describe("permission bitmap", () => {
  it("union and intersection are commutative, associative and idempotent", () => {
    fc.assert(
      fc.property(bitmap, bitmap, bitmap, (a, b, c) => {
        expect(P.union(a, b)).toBe(P.union(b, a))
        expect(P.intersection(a, b)).toBe(P.intersection(b, a))
        expect(P.union(P.union(a, b), c)).toBe(P.union(a, P.union(b, c)))
        expect(P.intersection(P.intersection(a, b), c)).toBe(P.intersection(a, P.intersection(b, c)))
        expect(P.union(a, a)).toBe(a)
        expect(P.intersection(a, a)).toBe(a)
      })
    )
  })

  it("grant then has; revoke then not has", () => {
    fc.assert(
      fc.property(bitmap, position, (a, i) => {
        const b = P.bit(i)
        expect(P.hasAll(P.grant(a, b), b)).toBe(true)
        expect(P.hasAny(P.revoke(a, b), b)).toBe(false)
        expect(P.isSubset(P.revoke(a, b), a)).toBe(true)
      })
    )
  })

  it("round-trips through names and through the 64-bit wire form, up to bit 63", () => {
    fc.assert(
      fc.property(bitmap, (a) => {
        expect(Either.getOrThrow(P.fromNames(P.toNames(a)))).toBe(a)
        expect(Either.getOrThrow(P.fromWire(P.toWire(a)))).toBe(a)
      })
    )
    const top = P.bit(63)
    expect(P.toWire(top)).toBe("9223372036854775808")
    expect(P.toNames(top)).toEqual(["bit:63"])
  })

  it("named bits are stable API", () => {
    expect(P.PermissionBits).toEqual({
      "probe:read": 0,
      "chat:completions": 1,
      "tokens:create": 2,
      "tokens:revoke": 3,
      "tokens:list": 4,
      "agents:manage": 5,
      "routing:admin": 6,
      "usage:read": 7,
      "budget:manage": 8
    })
    expect(P.toNames(P.of("probe:read", "tokens:list"))).toEqual(["probe:read", "tokens:list"])
  })

  it("rejects unknown names and out-of-range wire values", () => {
    expect(Either.isLeft(P.fromNames(["nope"]))).toBe(true)
    expect(Either.isLeft(P.fromNames(["bit:64"]))).toBe(true)
    expect(Either.isLeft(P.fromWire("-1"))).toBe(true)
    expect(Either.isLeft(P.fromWire((1n << 64n).toString()))).toBe(true)
    expect(Either.isLeft(P.fromWire("12abc"))).toBe(true)
    expect(() => P.bit(64)).toThrow(RangeError)
  })
})
