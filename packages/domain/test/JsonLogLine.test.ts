import { Cause, Effect, FiberId, FiberRefs, HashMap, List, Logger, LogLevel } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { jsonLogLine } from "../src/observability/JsonLogLine.js"

const line = (message: unknown) => JSON.parse(Logger.test(jsonLogLine, message)) as Record<string, unknown>

/** The text logged for `message` at `date`, outside any span (Logger.test stamps the current time). */
const textAt = (date: Date, message: unknown = { message: "m" }) =>
  jsonLogLine.log({
    fiberId: FiberId.none,
    logLevel: LogLevel.Info,
    message,
    cause: Cause.empty,
    context: FiberRefs.empty(),
    spans: List.empty(),
    annotations: HashMap.empty(),
    date
  })
const lineAt = (date: Date) => JSON.parse(textAt(date)) as Record<string, unknown>

/** The lines `effect` logs through the JSON logger, parsed. */
const linesOf = (effect: Effect.Effect<unknown>): Array<Record<string, unknown>> => {
  const lines: Array<string> = []
  const logger = Logger.replace(
    Logger.defaultLogger,
    Logger.map(jsonLogLine, (l) => lines.push(l))
  )
  Effect.runSync(effect.pipe(Effect.provide(logger)))
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>)
}

describe("jsonLogLine", () => {
  it("each line carries its own date's time, lines in the same millisecond the same", () => {
    const dates = [0, 1, 1, 1_700_000_000_123, 1_700_000_000_123, 1_700_000_000_124, 5].map((ms) => new Date(ms))
    for (const date of dates) expect(lineAt(date).time).toBe(date.toISOString())
  })

  it("a flat object's line is the object spread behind time and level, text for text (any keys: time, level, integer-like, __proto__)", () => {
    // Binary strings: control characters, quotes, backslashes, lone and paired surrogates.
    const value = fc.oneof(
      fc.string(),
      fc.string({ unit: "binary" }),
      fc.constantFrom("\ud800", "a\udc00b", "\ud83d\ude00", '"\\', "\u0000\u001f\u007f"),
      fc.double(),
      fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 1e21, 5e-7),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
      fc.constantFrom(() => 1, Symbol("s"))
    )
    const key = fc.oneof(
      fc.string(),
      fc.string({ unit: "binary" }),
      fc.constantFrom("time", "level", "message", "__proto__", "0", "12", "1a", 'a"b', "\u2028")
    )
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 8 }), fc.integer({ min: 0, max: 2 ** 42 }), (dict, ms) => {
        const date = new Date(ms)
        // A plain object (what the access line is) as well as the dictionary as generated, which
        // may have no prototype; `__proto__` stays an own key either way.
        const plain: Record<string, unknown> = {}
        for (const k of Object.keys(dict))
          Object.defineProperty(plain, k, { value: dict[k], enumerable: true, writable: true, configurable: true })
        for (const message of [plain, dict]) {
          const expected = JSON.stringify(Object.assign({ time: date.toISOString(), level: "INFO" }, message))
          expect(textAt(date, message)).toBe(expected)
        }
      }),
      { numRuns: 1_000 }
    )
    expect(textAt(new Date(0), {})).toBe('{"time":"1970-01-01T00:00:00.000Z","level":"INFO"}')
  })

  it("a flat object message is spread into the line as is", () => {
    const out = line({ message: "request", status: 200, org_id: null, ok: true })
    expect(out).toMatchObject({ message: "request", status: 200, org_id: null, ok: true, level: "INFO" })
    expect(typeof out.time).toBe("string")
  })

  it("bigints become strings and errors their class name only, at any depth", () => {
    const out = line({
      event: "x",
      sequence: 12n,
      failure: new TypeError("secret detail ibex_pat_x"),
      nested: { n: 3n, e: new RangeError("more detail") }
    })
    expect(out).toMatchObject({
      event: "x",
      sequence: "12",
      failure: { name: "TypeError" },
      nested: { n: "3", e: { name: "RangeError" } }
    })
    expect(JSON.stringify(out)).not.toContain("detail")
  })

  it("annotations and open log spans go into the line; a line without them carries neither", () => {
    const [inside, outside] = linesOf(
      Effect.logInfo("inside").pipe(
        Effect.annotateLogs({ request_id: "r-1", org_id: "o-1" }),
        Effect.withLogSpan("Proxy.request"),
        Effect.zipRight(Effect.logInfo("outside"))
      )
    )
    expect(inside).toMatchObject({ message: "inside", request_id: "r-1", org_id: "o-1", spans: ["Proxy.request"] })
    expect(outside).toMatchObject({ message: "outside" })
    expect(outside).not.toHaveProperty("spans")
    expect(outside).not.toHaveProperty("request_id")
  })

  it("a line logged in a span carries its ids; in a span with tracing off (a no-op span) it carries none", () => {
    const [traced, untraced] = linesOf(
      Effect.logInfo("traced").pipe(
        Effect.withSpan("Traced.op"),
        Effect.zipRight(
          Effect.logInfo("untraced").pipe(Effect.withSpan("Untraced.op"), Effect.withTracerEnabled(false))
        )
      )
    )
    expect(traced?.trace_id).toMatch(/^[0-9a-f]+$/)
    expect(traced?.span_id).toMatch(/^[0-9a-f]+$/)
    expect(untraced).not.toHaveProperty("trace_id")
    expect(untraced).not.toHaveProperty("span_id")
  })
})
