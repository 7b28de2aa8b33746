import { writeSync } from "node:fs"
import { jsonLoggerTo } from "@ibex/domain"

/**
 * Lines bound for stdout, written once per event-loop turn instead of once each: under load the
 * access log was one write(2) per request, the largest single cost in the edge's CPU profile.
 * What is buffered is flushed after the current I/O phase (setImmediate), when it passes 64 KiB,
 * and synchronously when the process exits, so a line is never lost to an orderly exit.
 */
const MAX_BUFFERED = 64 * 1024
let buffered: Array<string> = []
let bufferedBytes = 0
let scheduled = false

const flush = () => {
  scheduled = false
  if (buffered.length === 0) return
  const text = buffered.join("")
  buffered = []
  bufferedBytes = 0
  process.stdout.write(text)
}

process.once("exit", () => {
  if (buffered.length === 0) return
  try {
    writeSync(1, buffered.join(""))
  } catch {
    // stdout is gone: nothing left to tell
  }
  buffered = []
})

export const writeStdoutLine = (line: string): void => {
  buffered.push(`${line}\n`)
  bufferedBytes += line.length + 1
  if (bufferedBytes >= MAX_BUFFERED) flush()
  else if (!scheduled) {
    scheduled = true
    setImmediate(flush)
  }
}

/** JSON lines on stdout (the redaction rules live in the domain's `jsonLogLine`). */
export const JsonLoggerLive = jsonLoggerTo(writeStdoutLine)
