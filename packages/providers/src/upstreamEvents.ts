import {
  type ChunkEvent,
  type ChunkPuller,
  scrubProviderMessage,
  type UpstreamFailure,
  UpstreamHttpError,
  UpstreamProtocolError,
  type UpstreamResponse
} from "@ibex/domain"
import { Chunk, Effect, Either, Option, Stream } from "effect"
import { bodyReader, readText, retryAfterMs, type UpstreamExchange, type UpstreamHttp } from "./http/UpstreamHttp.js"
import { makeSseParser, type SseEvent, SseEventTooLarge } from "./sse.js"

export const MAX_ERROR_BYTES = 64 * 1024

/**
 * A non-2xx answer as the failure it is: the provider's status, its Retry-After, and its own
 * message (found by `messageOf`, the dialect's error shape), scrubbed of anything key-shaped.
 */
export const upstreamHttpError = (
  http: UpstreamHttp,
  providerId: string,
  exchange: UpstreamExchange,
  messageOf: (text: string) => string
): Effect.Effect<never, UpstreamFailure> =>
  Effect.flatMap(readText(http, providerId, exchange, MAX_ERROR_BYTES), (text) =>
    Effect.fail(httpErrorOf(providerId, exchange, text, messageOf))
  )

/** A non-2xx answer as a failure: its status, Retry-After, and the provider's message, scrubbed. */
export const httpErrorOf = (
  providerId: string,
  exchange: UpstreamExchange,
  text: Option.Option<string>,
  messageOf: (text: string) => string
): UpstreamHttpError => {
  const code = Option.flatMap(text, providerCodeOf)
  return new UpstreamHttpError({
    providerId,
    status: exchange.status,
    retryAfterMs: retryAfterMs(exchange, Date.now()),
    message: scrubProviderMessage(Option.match(text, { onNone: () => "", onSome: messageOf })),
    ...(Option.isSome(code) ? { providerCode: code.value } : {})
  })
}

/** A code as providers write theirs (lower-case snake case), never a sentence nor a key. */
const identifier = /^[a-z][a-z0-9_]{0,47}$/

/**
 * The provider's own error code: OpenAI's `error.code` (`context_length_exceeded`), else the
 * error's `type` (Anthropic's `invalid_request_error`); only when it is identifier-shaped.
 */
export const providerCodeOf = (text: string): Option.Option<string> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return Option.none()
  }
  const error = typeof json === "object" && json !== null ? (json as { error?: unknown }).error : undefined
  if (typeof error !== "object" || error === null) return Option.none()
  const { code, type } = error as { code?: unknown; type?: unknown }
  const found = typeof code === "string" ? code : typeof type === "string" ? type : undefined
  // Key-shaped (a key pasted where a code belongs) is dropped, as the message scrubs it.
  return found !== undefined && identifier.test(found) && scrubProviderMessage(found) === found
    ? Option.some(found)
    : Option.none()
}

/** What a dialect does with the events of its stream; either may throw an `UpstreamFailure` to end it. */
export interface SseTranslation {
  /**
   * Appends the chunks these events translate to. A failure is thrown where it occurs: what was
   * appended before it still reaches the client, then the stream fails.
   */
  readonly onEvents: (events: ReadonlyArray<SseEvent>, out: Array<ChunkEvent>) => void
  /** The body ended: the last chunks (a usage chunk not sent yet), or a failure if the stream was cut short. */
  readonly onEnd: () => ReadonlyArray<ChunkEvent>
}

const isUpstreamFailure = (e: unknown): e is UpstreamFailure =>
  typeof e === "object" && e !== null && "_tag" in e && typeof e._tag === "string" && e._tag.startsWith("Upstream")

/** What a throw while translating means for the stream: its own failure, else a broken stream. */
const translationFailure = (providerId: string, e: unknown): UpstreamFailure =>
  isUpstreamFailure(e)
    ? e
    : new UpstreamProtocolError({
        providerId,
        detail: e instanceof SseEventTooLarge ? "a stream event is too large" : "the stream could not be read"
      })

/**
 * A streamed body as chunks: decoded, split into server-sent events, translated by the dialect,
 * pulled on demand. Each pull is one batch (whatever the socket delivered since the last), so the
 * per-event cost is the parser's and the dialect's, not a stream stage's. A failure in a batch
 * comes after the chunks before it: they are delivered first, the failure on the next pull.
 */
export const ssePuller = (
  http: UpstreamHttp,
  providerId: string,
  exchange: UpstreamExchange,
  translation: SseTranslation
): ChunkPuller => {
  const parser = makeSseParser()
  const reader = bodyReader(http, providerId, exchange)
  let finished = false
  let failed: UpstreamFailure | undefined
  const translate = (text: Option.Option<string>): Either.Either<ReadonlyArray<ChunkEvent> | null, UpstreamFailure> => {
    const out: Array<ChunkEvent> = []
    try {
      if (Option.isSome(text)) translation.onEvents(parser.push(text.value), out)
      else {
        finished = true
        translation.onEvents(parser.end(), out)
        out.push(...translation.onEnd())
      }
      return Either.right(out)
    } catch (e) {
      failed = translationFailure(providerId, e)
      return out.length > 0 ? Either.right(out) : Either.left(failed)
    }
  }
  return {
    pull: (done) => {
      if (failed !== undefined) {
        done(Either.left(failed))
        return () => {}
      }
      if (finished) {
        done(Either.right(null))
        return () => {}
      }
      return reader.pullNow((text) => done(Either.flatMap(text, translate)))
    },
    release: reader.release
  }
}

/**
 * The first batch that holds a chunk, read before the attempt counts as answered: a stream that
 * fails or ends broken before its first chunk (an `error` event first, a connection cut after the
 * headers) is a failed attempt, retried or passed to the next target while the client has been
 * sent nothing. Costs no latency: the first chunk usually shares the read that brought the
 * headers, and the client's headers wait for it. Hands back a puller that gives that batch first.
 */
export const primeNow = (
  puller: ChunkPuller,
  done: (primed: Either.Either<ChunkPuller, UpstreamFailure>) => void
): (() => void) => {
  let cancel: () => void = () => {}
  // Settled (handed over or failed) or cancelled: the canceller has nothing left to stop.
  let over = false
  const next = () => {
    // A pull may answer before it returns (and pull again from inside): only the canceller of a
    // pull still waiting is kept, never a finished one's over a newer one.
    let answered = false
    const stop = puller.pull((batch) => {
      answered = true
      if (over) return
      if (Either.isLeft(batch)) {
        over = true
        puller.release()
        return done(Either.left(batch.left))
      }
      if (batch.right !== null && batch.right.length === 0) return next()
      over = true
      let first: ReadonlyArray<ChunkEvent> | null | undefined = batch.right
      done(
        Either.right({
          pull: (give) => {
            if (first === undefined) return puller.pull(give)
            const b = first
            first = undefined
            give(Either.right(b))
            return () => {}
          },
          release: puller.release
        })
      )
    })
    if (!answered) cancel = stop
  }
  next()
  return () => {
    if (over) return
    over = true
    cancel()
    puller.release()
  }
}

/** `primeNow` as an Effect; interrupted, it releases the puller. */
export const prime = (puller: ChunkPuller): Effect.Effect<ChunkPuller, UpstreamFailure> =>
  Effect.async<ChunkPuller, UpstreamFailure>((resume) => Effect.sync(primeNow(puller, (primed) => resume(primed))))

/** A puller's chunks as a Stream (the fiber's way to read them); the puller is released when the stream ends. */
export const chunkStream = (puller: ChunkPuller): Stream.Stream<ChunkEvent, UpstreamFailure> =>
  Stream.repeatEffectChunkOption(
    Effect.async<Chunk.Chunk<ChunkEvent>, Option.Option<UpstreamFailure>>((resume) =>
      Effect.sync(
        puller.pull((batch) =>
          resume(
            Either.isLeft(batch)
              ? Effect.fail(Option.some(batch.left))
              : batch.right === null
                ? Effect.fail(Option.none())
                : Effect.succeed(Chunk.unsafeFromArray(batch.right))
          )
        )
      )
    )
  ).pipe(Stream.ensuring(Effect.sync(puller.release)))

/** A stream answer read through `puller`: as a Stream for the fiber's way, the puller for the callback's. */
export const streamOf = (providerRequestId: Option.Option<string>, puller: ChunkPuller): UpstreamResponse => ({
  _tag: "Stream",
  providerRequestId,
  chunks: chunkStream(puller),
  puller
})

/** Chunks already in hand (an answer asked to stream that came whole) as a puller: one batch, then the end. */
export const pullerOf = (events: ReadonlyArray<ChunkEvent>): ChunkPuller => {
  let given = false
  return {
    pull: (done) => {
      const batch = given ? null : events
      given = true
      done(Either.right(batch))
      return () => {}
    },
    release: () => {}
  }
}
