import {
  type ProviderAdapter,
  scrubProviderMessage,
  type UpstreamFailure,
  UpstreamHttpError,
  UpstreamProtocolError,
  UpstreamRequestUnsupported,
  type UpstreamResponse
} from "@ibex/domain"
import { Effect, Either, Option, Redacted } from "effect"
import {
  fromAnthropicError,
  fromAnthropicResponse,
  makeStreamTranslator,
  type StreamFailure,
  statusOfAnthropicErrorType,
  toAnthropicRequest
} from "./anthropic/index.js"
import { discard, headerOf, readText, type UpstreamHttp } from "./http/UpstreamHttp.js"
import { jsonText } from "./jsonText.js"
import { MAX_COMPLETION_BYTES, providerRequestId } from "./openaiDialect.js"
import { prime, type SseTranslation, ssePuller, streamOf, upstreamHttpError } from "./upstreamEvents.js"

const DEFAULT_ANTHROPIC_VERSION = "2023-06-01"

const streamFailure = (providerId: string, failure: StreamFailure): UpstreamFailure => {
  if (failure._tag === "AnthropicProtocolError")
    return new UpstreamProtocolError({ providerId, detail: failure.detail })
  // An overloaded or rate-limited stream after 200: reported like the same error before the stream.
  return new UpstreamHttpError({
    providerId,
    status: statusOfAnthropicErrorType(failure.errorType) ?? 502,
    retryAfterMs: Option.none(),
    message: scrubProviderMessage(failure.message)
  })
}

const anthropicErrorMessage =
  (status: number) =>
  (text: string): string => {
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
    return fromAnthropicError(status, json)
  }

/** Anthropic's events, translated; a stream that ends before `message_stop` is a broken answer. */
const anthropicEvents = (
  providerId: string,
  options: { clientModel: string; created: number; includeUsage: boolean }
): SseTranslation => {
  const translator = makeStreamTranslator(options)
  return {
    onEvents: (events, out) => {
      for (const e of events) {
        const chunks = translator.push(e.event, e.data)
        if (Either.isLeft(chunks)) throw streamFailure(providerId, chunks.left)
        out.push(...chunks.right)
      }
    },
    onEnd: () => {
      if (!translator.completed())
        throw new UpstreamProtocolError({ providerId, detail: "the stream ended before message_stop" })
      return translator.end()
    }
  }
}

/**
 * Anthropic's Messages API behind the OpenAI shape: the request is translated on the way out,
 * the answer (whole, or event by event) on the way back, usage included.
 */
export const anthropicAdapter = (http: UpstreamHttp): ProviderAdapter => ({
  kind: "anthropic",
  call: (request) =>
    Effect.gen(function* () {
      const providerId = request.target.providerId
      const translated = toAnthropicRequest(request.body, request.target.model, request.stream)
      if (Either.isLeft(translated))
        return yield* new UpstreamRequestUnsupported({
          providerId,
          field: translated.left.field,
          message: translated.left.message
        })
      const exchange = yield* http.post({
        providerId,
        url: `${request.target.baseUrl}/v1/messages`,
        headers: {
          "content-type": "application/json",
          accept: request.stream ? "text/event-stream" : "application/json",
          ...request.headers,
          "anthropic-version": Option.getOrElse(request.target.apiVersion, () => DEFAULT_ANTHROPIC_VERSION),
          ...Option.match(request.target.apiKey, {
            onNone: () => ({}),
            onSome: (key) => ({ "x-api-key": Redacted.value(key) })
          })
        },
        body: jsonText(translated.right),
        timeouts: request.target.timeouts,
        signal: request.signal
      })
      if (exchange.status < 200 || exchange.status > 299)
        return yield* upstreamHttpError(http, providerId, exchange, anthropicErrorMessage(exchange.status))
      const requestId = providerRequestId(exchange, ["request-id", "x-request-id"])
      const clientModel = typeof request.body.model === "string" ? request.body.model : request.target.model
      const created = Math.floor(Date.now() / 1000)
      if (request.stream) {
        if (!(headerOf(exchange, "content-type") ?? "").includes("text/event-stream")) {
          discard(exchange)
          return yield* new UpstreamProtocolError({ providerId, detail: "a stream was asked for, not answered" })
        }
        const own = request.body.stream_options as { include_usage?: unknown } | undefined | null
        const puller = yield* prime(
          ssePuller(
            http,
            providerId,
            exchange,
            anthropicEvents(providerId, { clientModel, created, includeUsage: own?.include_usage === true })
          )
        )
        return streamOf(requestId, puller)
      }
      const text = yield* readText(http, providerId, exchange, MAX_COMPLETION_BYTES)
      if (Option.isNone(text))
        return yield* new UpstreamProtocolError({ providerId, detail: "the answer is too large" })
      let json: unknown
      try {
        json = JSON.parse(text.value)
      } catch {
        return yield* new UpstreamProtocolError({ providerId, detail: "the answer is not JSON" })
      }
      const completion = fromAnthropicResponse(json, clientModel, created)
      if (Either.isLeft(completion))
        return yield* new UpstreamProtocolError({ providerId, detail: completion.left.detail })
      return {
        _tag: "Completion",
        body: JSON.stringify(completion.right.completion),
        usage: Option.some(completion.right.usage),
        providerRequestId: requestId
      } satisfies UpstreamResponse
    })
})
