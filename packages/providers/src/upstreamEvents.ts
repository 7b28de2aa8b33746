import { type ChunkEvent, scrubProviderMessage, type UpstreamFailure, UpstreamHttpError } from "@ibex/domain"
import { Effect, Option, Stream } from "effect"
import { bodyText, readText, retryAfterMs, type UpstreamExchange, type UpstreamHttp } from "./http/UpstreamHttp.js"
import { makeSseParser, type SseEvent } from "./sse.js"

const MAX_ERROR_BYTES = 64 * 1024

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
    Effect.fail(
      new UpstreamHttpError({
        providerId,
        status: exchange.status,
        retryAfterMs: retryAfterMs(exchange, Date.now()),
        message: scrubProviderMessage(Option.match(text, { onNone: () => "", onSome: messageOf }))
      })
    )
  )

/** What a dialect does with the events of its stream; either may throw an `UpstreamFailure` to end it. */
export interface SseTranslation {
  readonly onEvents: (events: ReadonlyArray<SseEvent>) => ReadonlyArray<ChunkEvent>
  /** The body ended: the last chunks (a usage chunk not sent yet), or a failure if the stream was cut short. */
  readonly onEnd: () => ReadonlyArray<ChunkEvent>
}

const END = Symbol("end")

/** A streamed body as chunks: decoded, split into server-sent events, translated by the dialect, pulled on demand. */
export const sseChunks = (
  http: UpstreamHttp,
  providerId: string,
  exchange: UpstreamExchange,
  translation: SseTranslation
): Stream.Stream<ChunkEvent, UpstreamFailure> => {
  const parser = makeSseParser()
  return bodyText(http, providerId, exchange).pipe(
    Stream.concat(Stream.succeed<string | typeof END>(END)),
    Stream.mapConcatEffect((text: string | typeof END) =>
      Effect.try({
        try: () =>
          text === END
            ? [...translation.onEvents(parser.end()), ...translation.onEnd()]
            : translation.onEvents(parser.push(text)),
        catch: (e) => e as UpstreamFailure
      })
    )
  )
}
