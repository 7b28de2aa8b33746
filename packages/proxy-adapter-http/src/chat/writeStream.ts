import type { ServerResponse } from "node:http"
import type { ChunkEvent, ChunkPuller, EnvelopeJson, UpstreamFailure, Usage } from "@ibex/domain"
import { type Chunk, Effect, Either, Option, Stream } from "effect"
import { appendDelivered } from "./estimateUsage.js"

export interface StreamOutcome {
  readonly usage: Option.Option<Usage>
  /** Milliseconds from the request's arrival to its first chunk written; undefined when none was. */
  readonly firstChunkMs: number | undefined
  readonly failure: Option.Option<UpstreamFailure>
  readonly clientGone: boolean
  /**
   * The text (content and tool-call arguments) of the chunks written while no usage had arrived,
   * bounded: what an estimate counts if none comes.
   */
  readonly deliveredText: () => string
}

/**
 * Chunks are held as JSON until this many characters, then only their text is kept. A stream's
 * chunks used to be held whole until it ended (up to 2,000,000 characters each, ~2 MB): a
 * thousand long streams could hold gigabytes for an estimate that providers reporting usage never
 * need. The JSON envelope is most of a chunk; the text is the part an estimate counts. At 4,096 a
 * 60-chunk stream holds 10 KiB instead of 22 (at 32,768), for 0.1–0.3 µs of folding per chunk.
 */
const FOLD_AT_CHARS = 4_096

interface WriteOptions {
  readonly wantsUsageChunk: boolean
  readonly errorEvent: (failure: UpstreamFailure) => EnvelopeJson
  /**
   * The request's arrival (`performance.now()`). Time to first chunk counts from there: the
   * writer is made once the first upstream chunk has been read (streams are primed before an
   * attempt counts), so its own creation would time almost nothing.
   */
  readonly requestStarted: number
}

/**
 * What both ways of writing a stream share: each batch written, the stream's end and its
 * failure, and what the stream delivered. The usage-only chunk is passed on only to clients that
 * asked for it; its usage is kept either way. A failure after the first byte cannot become an
 * HTTP status any more: it is sent as an `error` event (what OpenAI's SDKs raise from) and the
 * stream ends without `[DONE]`.
 */
export const makeStreamWriter = (res: ServerResponse, options: WriteOptions) => {
  const started = options.requestStarted
  let usage: Option.Option<Usage> = Option.none()
  let firstChunkMs: number | undefined
  let pending: Array<string> = []
  let pendingChars = 0
  let text = ""
  const fold = () => {
    for (const json of pending) text = appendDelivered(text, json)
    pending = []
    pendingChars = 0
  }
  const deliveredText = () => {
    fold()
    return text
  }
  const outcome = (failure: Option.Option<UpstreamFailure>, clientGone: boolean): StreamOutcome => ({
    usage,
    firstChunkMs,
    failure,
    clientGone,
    deliveredText
  })
  return {
    /**
     * One batch (what one upstream read produced) in one write: corked, so a handful of small
     * events cost one syscall, and uncorked before the next pull, so nothing waits for more.
     * Returns false when the socket wants a 'drain' before the next.
     */
    batch: (events: Iterable<ChunkEvent>): boolean => {
      let ok = true
      let corked = false
      for (const event of events) {
        if (Option.isSome(event.usage)) usage = event.usage
        else {
          pending.push(event.json)
          pendingChars += event.json.length
          if (pendingChars >= FOLD_AT_CHARS) fold()
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
      return ok
    },
    ended: (): StreamOutcome => {
      if (!res.destroyed) res.end("data: [DONE]\n\n")
      return outcome(Option.none(), res.destroyed && !res.writableFinished)
    },
    failed: (failure: UpstreamFailure): StreamOutcome => {
      const gone = failure._tag === "UpstreamAborted" || res.destroyed
      if (!res.destroyed) res.end(`data: ${JSON.stringify(options.errorEvent(failure))}\n\n`)
      return outcome(Option.some(failure), gone)
    },
    gone: (): StreamOutcome => outcome(Option.none(), true)
  }
}

/** The client went away between two batches: the stream is abandoned (the upstream call is aborted by its signal). */
const CLIENT_GONE = Symbol("client gone")

/** Calls `done` once the socket can take more, or the client is gone; returns a canceller. */
const onDrained = (res: ServerResponse, done: () => void): (() => void) => {
  const stop = () => {
    res.off("drain", wake)
    res.off("close", wake)
  }
  const wake = () => {
    stop()
    done()
  }
  res.on("drain", wake)
  res.on("close", wake)
  return stop
}

/**
 * Writes an upstream's chunks as server-sent events as they arrive. Backpressure both ways: the
 * next chunk is pulled from the provider only once the client's socket has taken the last one.
 */
export const writeStream = (
  res: ServerResponse,
  chunks: Stream.Stream<ChunkEvent, UpstreamFailure>,
  options: WriteOptions
): Effect.Effect<StreamOutcome> => {
  const writer = makeStreamWriter(res, options)
  const writeBatch = (chunk: Chunk.Chunk<ChunkEvent>): Effect.Effect<void, typeof CLIENT_GONE> => {
    if (res.destroyed) return Effect.fail(CLIENT_GONE)
    return writer.batch(chunk)
      ? Effect.void
      : Effect.async<void>((resume) => Effect.sync(onDrained(res, () => resume(Effect.void))))
  }
  return chunks.pipe(
    Stream.runForEachChunk(writeBatch),
    Effect.matchEffect({
      onSuccess: () => Effect.sync(writer.ended),
      onFailure: (failure) => Effect.sync(() => (failure === CLIENT_GONE ? writer.gone() : writer.failed(failure)))
    })
  )
}

/**
 * `writeStream` without a fiber (the warm path): the same writer, the next batch pulled through
 * the puller's callback once the socket took the last. The puller is released when it ends.
 */
export const writeStreamNow = (
  res: ServerResponse,
  puller: ChunkPuller,
  options: WriteOptions,
  done: (outcome: StreamOutcome) => void
): void => {
  const writer = makeStreamWriter(res, options)
  const finish = (outcome: StreamOutcome) => {
    puller.release()
    done(outcome)
  }
  const next = () => {
    if (res.destroyed) {
      finish(writer.gone())
      return
    }
    puller.pull((batch) => {
      if (Either.isLeft(batch)) finish(writer.failed(batch.left))
      else if (batch.right === null) finish(writer.ended())
      else if (res.destroyed) finish(writer.gone())
      else if (writer.batch(batch.right)) next()
      else onDrained(res, next)
    })
  }
  next()
}
