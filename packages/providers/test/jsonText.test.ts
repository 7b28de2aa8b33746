import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { jsonText } from "../src/jsonText.js"

const text = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary" }),
  fc.constantFrom(
    "\ud800",
    "a\udc00b",
    "\ud83d\ude00",
    '"\\',
    "\u0000\u001f\u007f\u2028",
    "toJSON",
    "__proto__",
    "0",
    "12"
  )
)

/** JSON data and the values JSON treats specially, nested. */
const value = fc.letrec((tie) => ({
  leaf: fc.oneof(
    text,
    fc.double(),
    fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0, 1e21, 5e-7),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.constantFrom(() => 1, Symbol("s"))
  ),
  node: fc.oneof(
    { depthSize: "small" },
    tie("leaf"),
    fc.array(tie("node"), { maxLength: 5 }),
    fc.dictionary(text, tie("node"), { maxKeys: 5 }),
    // Plain objects as JSON.parse and spreads make them (the dictionary may have no prototype).
    fc
      .dictionary(text, tie("node"), { maxKeys: 5 })
      .map((d) => {
        const plain: Record<string, unknown> = {}
        for (const k of Object.keys(d))
          Object.defineProperty(plain, k, { value: d[k], enumerable: true, writable: true, configurable: true })
        return plain
      })
  )
}))

describe("jsonText", () => {
  it("writes what JSON.stringify writes, text for text", () => {
    fc.assert(
      fc.property(fc.dictionary(text, value.node, { maxKeys: 6 }), (object) => {
        expect(jsonText(object)).toBe(JSON.stringify(object))
        expect(jsonText([object])).toBe(JSON.stringify([object]))
      }),
      { numRuns: 2_000 }
    )
  })

  it("JSON.parse's output, written back, is the same text JSON.stringify writes", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const parsed = JSON.parse(JSON.stringify({ v })) as object
        expect(jsonText(parsed)).toBe(JSON.stringify(parsed))
      }),
      { numRuns: 1_000 }
    )
  })

  it("hands what is not plain JSON data to JSON.stringify: toJSON, class instances, boxed values, deep nesting", () => {
    const withToJson = { a: 1, toJSON: () => ({ replaced: true }) }
    const date = new Date(0)
    class Point {
      constructor(
        readonly x: number,
        readonly y: number
      ) {}
    }
    let deep: unknown = { end: "\u0000" }
    for (let i = 0; i < 200; i++) deep = i % 2 === 0 ? [deep] : { d: deep }
    const inherited = Object.create({ inheritedKey: 1 }) as Record<string, unknown>
    inherited.own = 2
    const sparse = [1, 2, 3]
    delete sparse[1]
    for (const v of [
      { withToJson },
      { date },
      { point: new Point(1, 2) },
      { boxed: [new String("s"), new Number(3), new Boolean(false)] },
      { deep },
      { inherited },
      { sparse },
      { array: Object.assign([1, 2], { toJSON: () => "whole" }) },
      // toJSON is called with its own key or index.
      { a: { toJSON: (key: string) => key } },
      { list: [{ toJSON: (key: string) => key }] },
      // Boxed values whatever their prototype says.
      { b: Object.setPrototypeOf(new Boolean(true), Object.prototype) },
      { proxy: new Proxy({ x: 1, hidden: 2 }, { ownKeys: () => ["x"] }) }
    ])
      expect(jsonText(v)).toBe(JSON.stringify(v))
    // A boxed number with no prototype: JSON.stringify throws, so does jsonText.
    const noProto = { n: Object.setPrototypeOf(new Number(1), null) }
    expect(() => JSON.stringify(noProto)).toThrow(TypeError)
    expect(() => jsonText(noProto)).toThrow(TypeError)
  })

  it("reads an array's length once, as JSON.stringify does, so a toJSON that grows it cannot loop", () => {
    const growing = () => {
      const a: Array<unknown> = []
      const x = {
        toJSON() {
          a.push(x)
          return 1
        }
      }
      a.push(x)
      return { a }
    }
    expect(JSON.stringify(growing())).toBe('{"a":[1]}')
    expect(jsonText(growing())).toBe('{"a":[1]}')
  })

  it("writes own keys only, as JSON.stringify does, even with Object.prototype polluted", () => {
    const proto = Object.prototype as Record<string, unknown>
    proto.polluted = "inherited"
    try {
      const v = JSON.parse('{"a":{"b":[{"c":1}]}}') as object
      expect(jsonText(v)).toBe('{"a":{"b":[{"c":1}]}}')
    } finally {
      delete proto.polluted
    }
  })

  it("fails as JSON.stringify does: a bigint, a cycle", () => {
    expect(() => jsonText({ n: 1n })).toThrow(TypeError)
    const cycle: Record<string, unknown> = { a: 1 }
    cycle.self = { again: cycle }
    expect(() => jsonText(cycle)).toThrow(TypeError)
  })
})
