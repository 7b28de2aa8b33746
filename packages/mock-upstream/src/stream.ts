import type { Exchange } from "./exchange.js"

/** What happens once the frames a stream is allowed to send have gone out. */
export type StreamEnd =
  | { readonly kind: "complete" }
  /** Go silent with the socket open (a stalled provider). */
  | { readonly kind: "stall" }
  | { readonly kind: "drop" }
  /** The provider's in-stream error frame, then end. */
  | { readonly kind: "error"; readonly frame: string }

/**
 * Writes the first `count` frames of an SSE stream (headers already set), `delayMs` apart, then
 * ends as `end` says. Unpaced streams go out in one write. Paced ones hold one timer per stream
 * (Node keeps equal-duration timers in one list, so 1,000 streams at 50 ms cost one native
 * timer) and wait for 'drain' whenever the socket's buffer is full instead of queueing more.
 */
export const writeStream = (
  ex: Exchange,
  frames: ReadonlyArray<string>,
  count: number,
  delayMs: number,
  end: StreamEnd
): void => {
  const res = ex.res
  const n = Math.max(0, Math.min(count, frames.length))
  const finish = (): void => {
    if (ex.closed) return
    switch (end.kind) {
      case "complete":
        res.end()
        return
      case "error":
        res.end(end.frame)
        return
      case "drop":
        ex.dropAfterFlush()
        return
      case "stall":
        return
    }
  }

  if (n === 0) {
    res.flushHeaders()
    finish()
    return
  }
  if (delayMs <= 0) {
    const payload = n === frames.length ? frames.join("") : frames.slice(0, n).join("")
    if (end.kind === "complete") res.end(payload)
    else {
      res.write(payload)
      finish()
    }
    return
  }

  let i = 0
  const next = (): void => {
    const ok = res.write(frames[i++] as string)
    if (i >= n) finish()
    else if (ok) ex.after(delayMs, next)
    else
      res.once("drain", () => {
        if (!ex.closed) ex.after(delayMs, next)
      })
  }
  next()
}
