import { describe, expect, it } from "@effect/vitest"
import { Option } from "effect"
import fc from "fast-check"
import { uuidFromBytes } from "../src/ids.js"
import { parseInboundRequestId, uuidv7, uuidv7Millis } from "../src/RequestId.js"

const bytes16 = fc.uint8Array({ minLength: 16, maxLength: 16 })

describe("request ids", () => {
  it("accepts every v4 and v7, in any case, normalised to lowercase", () => {
    fc.assert(
      fc.property(bytes16, fc.constantFrom(4 as const, 7 as const), fc.boolean(), (b, v, upper) => {
        const id = uuidFromBytes(b, v)
        const inbound = upper ? id.toUpperCase() : id
        expect(Option.getOrThrow(parseInboundRequestId(inbound))).toBe(id)
      })
    )
  })

  it("rejects other versions and any non-UUID text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 60 }), (s) => {
        const parsed = parseInboundRequestId(s)
        if (Option.isSome(parsed)) expect(parsed.value).toMatch(/^[0-9a-f-]{36}$/)
      })
    )
    const v1 = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
    expect(Option.isNone(parseInboundRequestId(v1))).toBe(true)
    expect(Option.isNone(parseInboundRequestId("<script>alert(1)</script>"))).toBe(true)
    expect(Option.isNone(parseInboundRequestId(`${uuidFromBytes(new Uint8Array(16), 4)}\r\nX-Evil: 1`))).toBe(true)
    expect(Option.isNone(parseInboundRequestId(undefined))).toBe(true)
    expect(Option.isNone(parseInboundRequestId(""))).toBe(true)
  })

  it("generates v7 ids that carry their time and are accepted", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 47 }), fc.uint8Array({ minLength: 10, maxLength: 10 }), (ms, r) => {
        const id = uuidv7(ms, r)
        expect(Option.getOrThrow(parseInboundRequestId(id))).toBe(id)
        expect(uuidv7Millis(id)).toBe(ms)
      })
    )
  })
})
