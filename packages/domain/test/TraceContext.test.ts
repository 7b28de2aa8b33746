import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { formatTraceparent, parseTraceparent } from "../src/observability/TraceContext.js"

const hex = (length: number) =>
  fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: length, maxLength: length })
const nonZeroHex = (length: number) => hex(length).filter((s) => !/^0+$/.test(s))

const trace = "4bf92f3577b34da6a3ce929d0e0e4736"
const span = "00f067aa0ba902b7"

describe("W3C traceparent", () => {
  it("round-trips every valid trace id, span id and sampled flag", () => {
    fc.assert(
      fc.property(nonZeroHex(32), nonZeroHex(16), fc.boolean(), (traceId, spanId, sampled) => {
        const header = formatTraceparent({ traceId, spanId, sampled })
        expect(header).toBe(`00-${traceId}-${spanId}-${sampled ? "01" : "00"}`)
        expect(parseTraceparent(header)).toEqual({ traceId, spanId, sampled })
      })
    )
  })

  it("reads the sampled bit from any flags byte", () => {
    expect(parseTraceparent(`00-${trace}-${span}-03`)?.sampled).toBe(true)
    expect(parseTraceparent(`00-${trace}-${span}-02`)?.sampled).toBe(false)
  })

  it("accepts a later version with extra fields after a dash", () => {
    expect(parseTraceparent(`01-${trace}-${span}-01-whatever`)).toEqual({ traceId: trace, spanId: span, sampled: true })
    expect(parseTraceparent(`01-${trace}-${span}-01`)).toBeDefined()
  })

  it.each([
    ["absent", undefined],
    ["empty", ""],
    ["uppercase", `00-${trace.toUpperCase()}-${span}-01`],
    ["leading space", ` 00-${trace}-${span}-01`],
    ["trailing space", `00-${trace}-${span}-01 `],
    ["version ff", `ff-${trace}-${span}-01`],
    ["version 00 with suffix", `00-${trace}-${span}-01-x`],
    ["later version, suffix without dash", `01-${trace}-${span}-01x`],
    ["zero trace id", `00-${"0".repeat(32)}-${span}-01`],
    ["zero span id", `00-${trace}-${"0".repeat(16)}-01`],
    ["short span id", `00-${trace}-${span.slice(1)}-01`],
    ["non-hex flags", `00-${trace}-${span}-0g`],
    ["huge", `01-${trace}-${span}-01-${"a".repeat(1000)}`]
  ])("refuses %s", (_name, value) => {
    expect(parseTraceparent(value)).toBeUndefined()
  })

  it("formats nothing for ids that are not W3C-shaped", () => {
    expect(formatTraceparent({ traceId: "abc", spanId: span, sampled: true })).toBeUndefined()
    expect(formatTraceparent({ traceId: trace, spanId: "0".repeat(16), sampled: true })).toBeUndefined()
    expect(formatTraceparent({ traceId: trace.toUpperCase(), spanId: span, sampled: true })).toBeUndefined()
  })
})
