import { writeSync } from "node:fs"
import { jsonLoggerTo } from "@ibex/domain"

export interface LineBuffer {
  /** Queues one line (a newline is added); written within `everyMs`, or at once past `maxBytes`. */
  readonly writeLine: (line: string) => void
  /** What is queued and not yet written, joined (for a last synchronous write at exit). */
  readonly take: () => string
}

/**
 * Lines gathered and handed to `write` as one text. Under load the access log was one write(2)
 * per request, the largest single cost in the edge's CPU profile; flushing once per turn of the
 * event loop still cost a write and a `setImmediate` per turn (a turn holds a few requests at
 * c16): 7 % of the edge's throughput. A timer every `everyMs` batches a turn's worth many times
 * over, and an unreferenced one never keeps a finished process alive.
 */
export const makeLineBuffer = (
  write: (text: string) => void,
  options: { readonly maxBytes: number; readonly everyMs: number }
): LineBuffer => {
  let buffered: Array<string> = []
  let bufferedBytes = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  const take = () => {
    const text = buffered.join("")
    buffered = []
    bufferedBytes = 0
    return text
  }
  const flush = () => {
    if (timer !== undefined) {
      clearTimeout(timer)
      timer = undefined
    }
    if (buffered.length > 0) write(take())
  }
  return {
    writeLine: (line) => {
      buffered.push(`${line}\n`)
      bufferedBytes += line.length + 1
      if (bufferedBytes >= options.maxBytes) flush()
      else if (timer === undefined) {
        timer = setTimeout(flush, options.everyMs)
        timer.unref()
      }
    },
    take
  }
}

// A line waits at most ~10 ms for company (docs/OPERATIONS.md, Logs).
const stdoutLines = makeLineBuffer((text) => process.stdout.write(text), { maxBytes: 64 * 1024, everyMs: 10 })

// On an orderly exit what this process still holds is written synchronously (a pipe may still
// hold what Node already accepted: docs/OPERATIONS.md, Logs).
process.once("exit", () => {
  const text = stdoutLines.take()
  if (text === "") return
  try {
    writeSync(1, text)
  } catch {
    // stdout is gone: nothing left to tell
  }
})

export const writeStdoutLine = stdoutLines.writeLine

/** JSON lines on stdout (the redaction rules live in the domain's `jsonLogLine`). */
export const JsonLoggerLive = jsonLoggerTo(writeStdoutLine)
