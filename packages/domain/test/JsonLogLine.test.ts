import { Cause, Effect, FiberId, FiberRefs, HashMap, List, Logger, LogLevel } from "effect"
import { describe, expect, it } from "vitest"
import { jsonLogLine } from "../src/observability/JsonLogLine.js"

const line = (message: unknown) => JSON.parse(Logger.test(jsonLogLine, message)) as Record<string, unknown>

/** The line for `message` logged at `date` (Logger.test stamps the current time). */
const lineAt = (date: Date) =>
  JSON.parse(
    jsonLogLine.log({
      fiberId: FiberId.none,
      logLevel: LogLevel.Info,
      message: { message: "m" },
      cause: Cause.empty,
      context: FiberRefs.empty(),
      spans: List.empty(),
      annotations: HashMap.empty(),
      date
    })
  ) as Record<string, unknown>

describe("jsonLogLine", () => {
  it("each line carries its own date's time, lines in the same millisecond the same", () => {
    const dates = [0, 1, 1, 1_700_000_000_123, 1_700_000_000_123, 1_700_000_000_124, 5].map((ms) => new Date(ms))
    for (const date of dates) expect(lineAt(date).time).toBe(date.toISOString())
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
    const lines: Array<string> = []
    const logger = Logger.replace(
      Logger.defaultLogger,
      Logger.map(jsonLogLine, (l) => lines.push(l))
    )
    Effect.runSync(
      Effect.logInfo("inside").pipe(
        Effect.annotateLogs({ request_id: "r-1", org_id: "o-1" }),
        Effect.withLogSpan("Proxy.request"),
        Effect.zipRight(Effect.logInfo("outside")),
        Effect.provide(logger)
      )
    )
    const [inside, outside] = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(inside).toMatchObject({ message: "inside", request_id: "r-1", org_id: "o-1", spans: ["Proxy.request"] })
    expect(outside).toMatchObject({ message: "outside" })
    expect(outside).not.toHaveProperty("spans")
    expect(outside).not.toHaveProperty("request_id")
  })
})
