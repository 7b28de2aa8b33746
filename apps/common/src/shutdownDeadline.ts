import { writeStdoutLine } from "./logging.js"

export interface ShutdownDeadlineOptions {
  /** Where the signals arrive (the process). */
  readonly signals?: Pick<NodeJS.Process, "once">
  /** How the process ends when the deadline passes. */
  readonly exit?: (code: number) => void
  readonly log?: (line: string) => void
}

/**
 * A hard bound on shutdown. Once SIGTERM or SIGINT arrives, the graceful path runs (the proxy's
 * drain, auth's `tryShutdown`, every layer's finalizer); if it has not ended the process within
 * `graceMs`, one `shutdown_deadline_passed` line is written and the process exits with 1.
 *
 * Why: a finalizer waits on whatever its resource waits on. A database query that never answers
 * (seen with the embedded PGlite, docs/RLS.md) kept `npm start` alive after SIGTERM indefinitely,
 * and an orchestrator that sends SIGTERM expects an exit it can observe, not a process it must
 * kill. The timer is unref'd: it never keeps a process alive that would otherwise exit.
 */
export const exitAfterShutdownDeadline = (
  service: string,
  graceMs: number,
  options: ShutdownDeadlineOptions = {}
): void => {
  const signals = options.signals ?? process
  const exit = options.exit ?? ((code: number) => process.exit(code))
  const log = options.log ?? writeStdoutLine
  let armed = false
  const arm = (signal: NodeJS.Signals) => {
    if (armed) return
    armed = true
    setTimeout(() => {
      log(
        JSON.stringify({
          time: new Date().toISOString(),
          level: "ERROR",
          event: "shutdown_deadline_passed",
          service,
          signal,
          grace_ms: graceMs
        })
      )
      exit(1)
    }, graceMs).unref()
  }
  signals.once("SIGTERM", () => arm("SIGTERM"))
  signals.once("SIGINT", () => arm("SIGINT"))
}
