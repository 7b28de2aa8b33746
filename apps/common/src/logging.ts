import { jsonLoggerTo } from "@ibex/domain"

/** JSON lines on stdout (the redaction rules live in the domain's `jsonLogLine`). */
export const JsonLoggerLive = jsonLoggerTo((line) => {
  process.stdout.write(`${line}\n`)
})
