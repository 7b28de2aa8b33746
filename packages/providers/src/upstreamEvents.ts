import { type ChunkEvent, scrubProviderMessage, type UpstreamFailure, UpstreamHttpError } from "@ibex/domain"
import { Chunk, Effect, Option, Stream } from "effect"
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
export const sseChunks = (
  http: UpstreamHttp,
  providerId: string,
  exchange: UpstreamExchange,
  translation: SseTranslation
): Stream.Stream<ChunkEvent, UpstreamFailure> =>
  Stream.suspend(() => {
    const parser = makeSseParser()
    const reader = bodyReader(http, providerId, exchange)
    let finished = false
    const translate = (
      text: Option.Option<string>
    ): Effect.Effect<Chunk.Chunk<ChunkEvent>, Option.Option<UpstreamFailure>> => {
      try {
        if (Option.isSome(text))
          return Effect.succeed(Chunk.unsafeFromArray(translation.onEvents(parser.push(text.value))))
        finished = true
        return Effect.succeed(Chunk.unsafeFromArray([...translation.onEvents(parser.end()), ...translation.onEnd()]))
      } catch (e) {
        return Effect.fail(Option.some(e as UpstreamFailure))
      }
    }
    const pull: Effect.Effect<Chunk.Chunk<ChunkEvent>, Option.Option<UpstreamFailure>> = Effect.suspend(() =>
      finished ? Effect.fail(Option.none()) : Effect.flatMap(Effect.mapError(reader.pull, Option.some), translate)
    )
    return Stream.repeatEffectChunkOption(pull).pipe(Stream.ensuring(Effect.sync(reader.release)))
  })
