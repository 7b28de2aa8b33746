import { Duration, Effect, Fiber, type Scope } from "effect"
import type { UsageSinkShape } from "../ports/UsageSink.js"
import type { UsageRecord } from "./UsageRecord.js"

export interface UsageShipperOptions {
  /** Stores one batch; idempotent per record (the request id), so a retried batch is safe. */
  readonly send: (batch: ReadonlyArray<UsageRecord>) => Effect.Effect<unknown, unknown>
  /** Records held while the store is unreachable; past it, new records are dropped and counted. */
  readonly maxBuffered: number
  readonly batchSize: number
  /** A partial batch waits at most this long. */
  readonly flushIntervalMs: number
  readonly retryBaseMs: number
  readonly retryMaxMs: number
  /** How long closing waits to send what is left. */
  readonly closeDeadlineMs: number
  readonly onDropped?: (count: number) => void
  readonly onSent?: (count: number) => void
}

export interface UsageShipper extends UsageSinkShape {
  readonly pending: () => number
  readonly dropped: () => number
}

/**
 * Ships usage records in batches from a bounded in-memory buffer. A failed send keeps the
 * batch at the head and retries with exponential backoff, so an auth restart or a minute of
 * unreachability loses nothing as long as the buffer holds; past the bound the newest records
 * are dropped, counted and logged (once a second at most). The sending fiber lives in the
 * caller's scope; closing it sends what is left, up to a deadline.
 */
export const makeUsageShipper = (options: UsageShipperOptions): Effect.Effect<UsageShipper, never, Scope.Scope> =>
  Effect.gen(function* () {
    let buffer: Array<UsageRecord> = []
    let dropped = 0
    let droppedSinceLog = 0
    let wake: (() => void) | undefined
    const signal = () => {
      const w = wake
      wake = undefined
      w?.()
    }
    const waitForWork = (ms: number) =>
      Effect.async<void>((resume) => {
        const timer = setTimeout(() => resume(Effect.void), ms)
        wake = () => {
          clearTimeout(timer)
          resume(Effect.void)
        }
        return Effect.sync(() => {
          clearTimeout(timer)
          wake = undefined
        })
      })

    const sendHead = Effect.suspend(() => {
      const batch = buffer.slice(0, options.batchSize)
      return options.send(batch).pipe(
        Effect.as(true),
        Effect.catchAllCause(() => Effect.succeed(false)),
        Effect.tap((ok) =>
          Effect.sync(() => {
            if (!ok) return
            // The head is still ours: offers only ever append.
            buffer = buffer.slice(batch.length)
            options.onSent?.(batch.length)
          })
        )
      )
    })

    const logDrops = Effect.suspend(() => {
      if (droppedSinceLog === 0) return Effect.void
      const n = droppedSinceLog
      droppedSinceLog = 0
      return Effect.logWarning({ message: "usage records dropped: buffer full", dropped: n, buffered: buffer.length })
    })

    const loop = Effect.gen(function* () {
      let backoff = options.retryBaseMs
      for (;;) {
        yield* logDrops
        if (buffer.length === 0) {
          yield* waitForWork(1_000)
          continue
        }
        if (buffer.length < options.batchSize) yield* waitForWork(options.flushIntervalMs)
        const ok = yield* sendHead
        if (ok) {
          backoff = options.retryBaseMs
          continue
        }
        yield* Effect.sleep(Duration.millis(backoff))
        backoff = Math.min(options.retryMaxMs, backoff * 2)
      }
    })

    const sender = yield* Effect.forkScoped(loop)
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        // One sender at a time: the loop's batch in flight and this one would both trim the head.
        yield* Fiber.interrupt(sender)
        const deadline = Date.now() + options.closeDeadlineMs
        while (buffer.length > 0 && Date.now() < deadline) {
          const ok = yield* sendHead.pipe(
            Effect.timeoutTo({
              duration: Duration.millis(Math.max(1, deadline - Date.now())),
              onSuccess: (x) => x,
              onTimeout: () => false
            })
          )
          if (!ok) yield* Effect.sleep(Duration.millis(Math.min(200, Math.max(1, deadline - Date.now()))))
        }
        if (buffer.length > 0)
          yield* Effect.logWarning({ message: "usage records not sent before shutdown", dropped: buffer.length })
      })
    )

    return {
      offer: (record) => {
        if (buffer.length >= options.maxBuffered) {
          dropped++
          droppedSinceLog++
          options.onDropped?.(1)
          return
        }
        buffer.push(record)
        if (buffer.length >= options.batchSize) signal()
      },
      pending: () => buffer.length,
      dropped: () => dropped
    }
  })
