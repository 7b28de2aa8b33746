import type { RecordedRequest } from "./types.js"

interface Waiter {
  readonly pred: (r: RecordedRequest) => boolean
  readonly resolve: (r: RecordedRequest) => void
  readonly reject: (e: Error) => void
  readonly timer: NodeJS.Timeout
}

/**
 * The recorded requests and the tests waiting for an abort. Bounded: a benchmark sends millions
 * of requests, so only the most recent `max` are kept, trimmed in batches of a tenth so the
 * array is not shifted on every request.
 */
export class Recorder {
  private list: RecordedRequest[] = []
  private waiters: Waiter[] = []

  constructor(private readonly max: number) {}

  get requests(): ReadonlyArray<RecordedRequest> {
    return this.list
  }

  add(r: RecordedRequest): void {
    this.list.push(r)
    if (this.list.length > this.max + Math.ceil(this.max / 10)) this.list.splice(0, this.list.length - this.max)
  }

  clear(): void {
    this.list = []
  }

  aborted(r: RecordedRequest): void {
    const still: Waiter[] = []
    for (const w of this.waiters) {
      if (safeMatch(w.pred, r)) {
        clearTimeout(w.timer)
        w.resolve(r)
      } else still.push(w)
    }
    this.waiters = still
  }

  waitForAbort(pred: (r: RecordedRequest) => boolean, timeoutMs: number): Promise<RecordedRequest> {
    const already = this.list.find((r) => r.abortedAt !== undefined && safeMatch(pred, r))
    if (already) return Promise.resolve(already)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer)
        reject(new Error(`mock upstream: no matching request was aborted within ${timeoutMs} ms`))
      }, timeoutMs)
      this.waiters.push({ pred, resolve, reject, timer })
    })
  }

  /** On close: nobody will abort any more, so waiting tests fail now rather than at their timeout. */
  rejectAll(): void {
    for (const w of this.waiters) {
      clearTimeout(w.timer)
      w.reject(new Error("mock upstream closed before a matching request was aborted"))
    }
    this.waiters = []
  }
}

/** A predicate that throws (say, on a body it did not expect) just does not match. */
const safeMatch = (pred: (r: RecordedRequest) => boolean, r: RecordedRequest): boolean => {
  try {
    return pred(r)
  } catch {
    return false
  }
}
