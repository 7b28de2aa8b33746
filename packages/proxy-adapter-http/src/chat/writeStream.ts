import type { ServerResponse } from "node:http"
import type { ChunkEvent, EnvelopeJson, UpstreamFailure, Usage } from "@ibex/domain"
import { type Chunk, Effect, Option, Stream } from "effect"

export interface StreamOutcome {
  readonly usage: Option.Option<Usage>
  /** Milliseconds from the stream's start to its first chunk written; undefined when none was. */
  readonly firstChunkMs: number | undefined
  readonly failure: Option.Option<UpstreamFailure>
  readonly clientGone: boolean
  /** The chunks written while no usage had arrived (bounded): what an estimate counts if none comes. */
  readonly delivered: ReadonlyArray<string>
}

/** Enough for any answer's estimate; past it the count is a lower bound (and marked estimated anyway). */
const MAX_KEPT_CHARS = 2_000_000

/** The client went away between two batches: the stream is abandoned (the upstream call is aborted by its signal). */
const CLIENT_GONE = Symbol("client gone")

/** Resolves when the socket can take more, or the client is gone (then writing stops). */
const drained = (res: ServerResponse) =>
  Effect.async<void>((resume) => {
    const done = () => {
      res.off("drain", done)
      res.off("close", done)
      resume(Effect.void)
    }
    res.on("drain", done)
    res.on("close", done)
    return Effect.sync(() => {
      res.off("drain", done)
      res.off("close", done)
    })
  })

/**
 * Writes an upstream's chunks as server-sent events as they arrive. Backpressure both ways: the
 * next chunk is pulled from the provider only once the client's socket has taken the last one.
 * The usage-only chunk is passed on only to clients that asked for it; its usage is kept either
 * way. A failure after the first byte cannot become an HTTP status any more: it is sent as an
 * `error` event (what OpenAI's SDKs raise from) and the stream ends without `[DONE]`.
 */
export const writeStream = (
  res: ServerResponse,
  chunks: Stream.Stream<ChunkEvent, UpstreamFailure>,
  options: { readonly wantsUsageChunk: boolean; readonly errorEvent: (failure: UpstreamFailure) => EnvelopeJson }
): Effect.Effect<StreamOutcome> => {
  const started = performance.now()
  let usage: Option.Option<Usage> = Option.none()
  let firstChunkMs: number | undefined
  const delivered: Array<string> = []
  let kept = 0
  /**
   * One batch (what one upstream read produced) goes out in one write: corked, so a handful of
   * small events cost one syscall, and uncorked before the next pull, so nothing waits for more.
   */
  const writeBatch = (chunk: Chunk.Chunk<ChunkEvent>): Effect.Effect<void, typeof CLIENT_GONE> => {
    if (res.destroyed) return Effect.fail(CLIENT_GONE)
    let ok = true
    let corked = false
    for (const event of chunk) {
      if (Option.isSome(event.usage)) usage = event.usage
      else if (kept < MAX_KEPT_CHARS) {
        delivered.push(event.json)
        kept += event.json.length
      }
      if (event.usageOnly && !options.wantsUsageChunk) continue
      if (!corked) {
        corked = true
        res.cork()
        if (firstChunkMs === undefined) firstChunkMs = performance.now() - started
      }
      ok = res.write(`data: ${event.json}\n\n`)
    }
    if (corked) res.uncork()
    return ok ? Effect.void : drained(res)
  }
  return chunks.pipe(
    Stream.runForEachChunk(writeBatch),
    Effect.matchEffect({
      onSuccess: () =>
        Effect.sync(() => {
          if (!res.destroyed) res.end("data: [DONE]\n\n")
          return {
            usage,
            firstChunkMs,
            failure: Option.none(),
            clientGone: res.destroyed && !res.writableFinished,
            delivered
          }
        }),
      onFailure: (failure) =>
        Effect.sync(() => {
          if (failure === CLIENT_GONE)
            return { usage, firstChunkMs, failure: Option.none(), clientGone: true, delivered } satisfies StreamOutcome
          const gone = failure._tag === "UpstreamAborted" || res.destroyed
          if (!res.destroyed) res.end(`data: ${JSON.stringify(options.errorEvent(failure))}\n\n`)
          return { usage, firstChunkMs, failure: Option.some(failure), clientGone: gone, delivered }
        })
    })
  )
}
