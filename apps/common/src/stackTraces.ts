/**
 * Errors are values on the services' request paths (a refused token, a 429, an unknown model),
 * and V8 captures a stack for each one constructed: the largest single cost of a refused chat
 * request in the edge's CPU profile. No log line or answer ever shows a stack (the JSON logger
 * keeps only class names), so the services capture none, unless the operator asks for them with
 * Node's own `--stack-trace-limit` (in the command line or NODE_OPTIONS).
 */
export const skipStackTraces = (): void => {
  const asked = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(/\s+/)].some((a) =>
    a.startsWith("--stack-trace-limit")
  )
  if (!asked) Error.stackTraceLimit = 0
}
