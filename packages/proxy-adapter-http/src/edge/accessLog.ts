import { Cause, FiberId, FiberRef, FiberRefs, HashMap, List, LogLevel, type Runtime } from "effect"
import type { RequestState } from "./RequestState.js"

const probes = new Set(["/health", "/ready", "/metrics"])

/**
 * The access log: one line per request, handed straight to the loggers installed in the
 * runtime (the apps' JSON logger, with its redaction rules), under its minimum level. Not
 * `Effect.logInfo`: the line is on every request's path, a warm request has no fiber to log
 * from, and a fiber's log call walks annotations and spans this line never has.
 */
export const makeAccessLog = (
  runtime: Runtime.Runtime<never>,
  enabled: boolean
): ((state: RequestState, spanId?: string) => void) => {
  const loggers = [...FiberRefs.getOrDefault(runtime.fiberRefs, FiberRef.currentLoggers)]
  const minimum = FiberRefs.getOrDefault(runtime.fiberRefs, FiberRef.currentMinimumLogLevel)
  const infoOn = enabled && LogLevel.greaterThanEqual(LogLevel.Info, minimum)
  const debugOn = enabled && LogLevel.greaterThanEqual(LogLevel.Debug, minimum)
  return (state, spanId) => {
    const probe = probes.has(state.template)
    if (probe ? !debugOn : !infoOn) return
    const line: Record<string, unknown> = {
      message: "request",
      request_id: state.requestId,
      trace_id: state.traceId,
      method: state.method,
      route: state.template,
      status: state.status,
      duration_ms: Number((performance.now() - state.started).toFixed(3))
    }
    if (spanId !== undefined) line.span_id = spanId
    if (state.orgId !== undefined) line.org_id = state.orgId
    if (state.errorCode !== undefined) line.error_code = state.errorCode
    if (state.logFields !== undefined) Object.assign(line, state.logFields)
    const entry = {
      fiberId: FiberId.none,
      logLevel: probe ? LogLevel.Debug : LogLevel.Info,
      message: line,
      cause: Cause.empty,
      context: runtime.fiberRefs,
      spans: List.empty(),
      annotations: HashMap.empty<string, unknown>(),
      date: new Date()
    }
    for (const logger of loggers) logger.log(entry)
  }
}
