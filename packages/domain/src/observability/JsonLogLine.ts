import { Cause, Context, FiberRef, FiberRefs, HashMap, List, Logger, Option, Tracer } from "effect"

const replacer = (_key: string, value: unknown) =>
  typeof value === "bigint" ? value.toString() : value instanceof Error ? { name: value.name } : value

// Under load many lines share a millisecond (the access line on every request): format it once.
let lastMillis = Number.NaN
let lastIso = ""
const isoTime = (date: Date): string => {
  const ms = date.getTime()
  if (ms !== lastMillis) {
    lastIso = date.toISOString()
    lastMillis = ms
  }
  return lastIso
}

/**
 * One JSON object per log line: `time`, `level`, the message (an object message, such as an
 * audit record, is spread into the line; anything else goes to `message`), the current
 * tracing span's `trace_id` and `span_id` (so every line logged inside a request or an RPC
 * joins its trace), log annotations (request id, trace id, org id) and open span names. A
 * cause is reduced to its failure tags and defect class names: its messages and stack traces
 * are never printed, because they can quote request data, and a token must never reach a log
 * line.
 */
export const jsonLogLine: Logger.Logger<unknown, string> = Logger.make(
  ({ logLevel, message, annotations, cause, spans, date, context }) => {
    const current = Context.getOption(FiberRefs.getOrDefault(context, FiberRef.currentContext), Tracer.ParentSpan)
    // A span made while tracing is off is Effect's no-op span, whose ids read "noop": no trace to join.
    const span = Option.isSome(current) && current.value.traceId === "noop" ? Option.none() : current
    // The common line (the access line on every request): one flat object and nothing else. Its
    // own JSON, behind `time` and `level`, is the same text as the general path's, without copying
    // it into a new object first.
    if (
      span._tag === "None" &&
      isPlainLine(message) &&
      HashMap.size(annotations) === 0 &&
      !List.isCons(spans) &&
      Cause.isEmpty(cause)
    ) {
      const head = `{"time":"${isoTime(date)}","level":${JSON.stringify(logLevel.label)}`
      const own = JSON.stringify(message)
      return own === "{}" ? `${head}}` : `${head},${own.slice(1)}`
    }
    const line: Record<string, unknown> = { time: isoTime(date), level: logLevel.label }
    if (span._tag === "Some") {
      line.trace_id = span.value.traceId
      line.span_id = span.value.spanId
    }
    const parts = Array.isArray(message) ? message : [message]
    const texts: Array<string> = []
    for (const part of parts) {
      if (part !== null && typeof part === "object" && !Array.isArray(part)) Object.assign(line, part)
      else texts.push(String(part))
    }
    if (texts.length > 0) line.message = texts.join(" ")
    // Most lines (the access line on every request) have neither: no iterator, no arrays for them.
    if (HashMap.size(annotations) > 0) for (const [key, value] of HashMap.toEntries(annotations)) line[key] = value
    if (List.isCons(spans)) line.spans = List.toArray(spans).map((s) => s.label)
    if (!Cause.isEmpty(cause)) {
      line.failures = [...Cause.failures(cause)].map((e) =>
        e !== null && typeof e === "object" && "_tag" in e ? String(e._tag) : typeof e
      )
      line.defects = [...Cause.defects(cause)].map((d) => (d instanceof Error ? d.name : typeof d))
    }
    return JSON.stringify(line, flat(line) ? undefined : replacer)
  }
)

/**
 * A plain object of flat values that `JSON.stringify` writes in its own key order behind the
 * line's `time` and `level`: none of its keys is one of those two, `__proto__` (which the general
 * path's copy turns into a prototype) or integer-like (which an object serializes first).
 */
const isPlainLine = (message: unknown): message is Record<string, unknown> => {
  if (message === null || typeof message !== "object" || Object.getPrototypeOf(message) !== Object.prototype)
    return false
  for (const key in message) {
    const first = key.charCodeAt(0)
    if ((first >= 48 && first <= 57) || key === "time" || key === "level" || key === "__proto__") return false
    if (!isFlatValue((message as Record<string, unknown>)[key])) return false
  }
  return true
}

/**
 * A line of strings, numbers, booleans and nulls (the access line, most lines) needs no replacer,
 * and a replacer function makes JSON.stringify call back into JavaScript for every key.
 */
const flat = (line: Record<string, unknown>): boolean => {
  for (const key in line) if (!isFlatValue(line[key])) return false
  return true
}

/** What JSON.stringify writes as is: no object (or array) to descend into, no bigint to convert. */
const isFlatValue = (value: unknown): boolean =>
  (value === null || typeof value !== "object") && typeof value !== "bigint"

/** The JSON line logger in place of Effect's default, each line handed to `write` (stdout in the apps). */
export const jsonLoggerTo = (write: (line: string) => void) =>
  Logger.replace(Logger.defaultLogger, Logger.map(jsonLogLine, write))
