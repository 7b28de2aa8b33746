import {
  type ChunkEvent,
  type ChunkPuller,
  scrubProviderMessage,
  type UpstreamFailure,
  UpstreamHttpError
} from "@ibex/domain"
import { Chunk, Effect, Either, Option, Stream } from "effect"
import { bodyReader, readText, retryAfterMs, type UpstreamExchange, type UpstreamHttp } from "./http/UpstreamHttp.js"
import { makeSseParser, type SseEvent } from "./sse.js"

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
): UpstreamHttpError =>
  new UpstreamHttpError({
    providerId,
    status: exchange.status,
    retryAfterMs: retryAfterMs(exchange, Date.now()),
    message: scrubProviderMessage(Option.match(text, { onNone: () => "", onSome: messageOf }))
  })

/** What a dialect does with the events of its stream; either may throw an `UpstreamFailure` to end it. */
export interface SseTranslation {
  readonly onEvents: (events: ReadonlyArray<SseEvent>) => ReadonlyArray<ChunkEvent>
  /** The body ended: the last chunks (a usage chunk not sent yet), or a failure if the stream was cut short. */
  readonly onEnd: () => ReadonlyArray<ChunkEvent>
}

/**
 * A streamed body as chunks: decoded, split into server-sent events, translated by the dialect,
 * pulled on demand. Each pull is one batch (whatever the socket delivered since the last), so the
 * per-event cost is the parser's and the dialect's, not a stream stage's.
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
  const translate = (text: Option.Option<string>): Either.Either<ReadonlyArray<ChunkEvent> | null, UpstreamFailure> => {
    try {
      if (Option.isSome(text)) return Either.right(translation.onEvents(parser.push(text.value)))
      finished = true
      return Either.right([...translation.onEvents(parser.end()), ...translation.onEnd()])
    } catch (e) {
      return Either.left(e as UpstreamFailure)
    }
  }
  return {
    pull: (done) => {
      if (finished) {
        done(Either.right(null))
        return () => {}
      }
      return reader.pullNow((text) => done(Either.flatMap(text, translate)))
    },
    release: reader.release
  }
}

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

/** `ssePuller` read as a Stream: each run reads the body from where it stands. */
export const sseChunks = (
  http: UpstreamHttp,
  providerId: string,
  exchange: UpstreamExchange,
  translation: SseTranslation
): Stream.Stream<ChunkEvent, UpstreamFailure> =>
  Stream.suspend(() => chunkStream(ssePuller(http, providerId, exchange, translation)))
