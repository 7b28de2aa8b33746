import {
  type ChunkEvent,
  scrubProviderMessage,
  type UpstreamAnswered,
  type UpstreamFailure,
  UpstreamProtocolError,
  type UpstreamRequest,
  type UpstreamResponse,
  type Usage
} from "@ibex/domain"
import { Effect, Either, Option, Stream } from "effect"
import {
  headerOf,
  readText,
  readTextNow,
  type UpstreamExchange,
  type UpstreamHttp,
  type UpstreamPost
} from "./http/UpstreamHttp.js"
import { jsonText } from "./jsonText.js"
import { errorMessageOf, usageFromOpenAi } from "./openaiWire.js"
import {
  httpErrorOf,
  MAX_ERROR_BYTES,
  prime,
  primeNow,
  pullerOf,
  type SseTranslation,
  ssePuller,
  streamOf,
  upstreamHttpError
} from "./upstreamEvents.js"

/** An answer body above this is not a chat completion: refused rather than buffered. */
export const MAX_COMPLETION_BYTES = 16 * 1024 * 1024

/** Where and how an OpenAI-wire request goes; the two OpenAI-wire kinds differ only here. */
export interface OpenAiEndpoint {
  readonly url: string
  readonly authHeaders: Record<string, string>
  /** Whether the body names the model (Azure takes it from the deployment URL). */
  readonly sendModel: boolean
  readonly requestIdHeaders: ReadonlyArray<string>
}

const requestBody = (request: UpstreamRequest, sendModel: boolean): string => {
  const body: Record<string, unknown> = { ...request.body }
  if (sendModel) body.model = request.target.model
  else delete body.model
  if (request.stream) {
    // Usage is what metering bills from: always asked for; the edge hides it from clients that did not.
    const own = body.stream_options
    body.stream_options = { ...(typeof own === "object" && own !== null ? own : {}), include_usage: true }
  }
  return jsonText(body)
}

export const providerRequestId = (exchange: UpstreamExchange, names: ReadonlyArray<string>): Option.Option<string> => {
  for (const name of names) {
    const v = headerOf(exchange, name)
    if (v !== undefined && v !== "") return Option.some(v.slice(0, 200))
  }
  return Option.none()
}

const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13

/**
 * Whether some `key` (quoted, as `'"usage"'`) in the chunk holds a value other than null. Inside a
 * JSON string a quote is escaped, so an unescaped `"usage"` is always a key; with include_usage
 * every chunk carries `"usage": null`, which needs no parse.
 */
const holdsValue = (data: string, key: string): boolean => {
  for (let at = data.indexOf(key); at !== -1; at = data.indexOf(key, at + key.length)) {
    let i = at + key.length
    while (isSpace(data.charCodeAt(i))) i++
    if (data.charCodeAt(i) !== 58) continue
    i++
    while (isSpace(data.charCodeAt(i))) i++
    if (!data.startsWith("null", i)) return true
  }
  return false
}

export const carriesUsage = (data: string): boolean => holdsValue(data, '"usage"')

/** Whether a choice in the chunk has finished (a `finish_reason` other than null). */
export const carriesFinish = (data: string): boolean => holdsValue(data, '"finish_reason"')

const chunkOf = (providerId: string, data: string): ChunkEvent | UpstreamFailure => {
  // Parsing every chunk would cost the stream's whole budget; only chunks carrying usage or
  // naming an error are read (OpenAI's usage chunk, an in-stream error object).
  if (!data.includes('"error"') && !carriesUsage(data)) return { json: data, usage: Option.none(), usageOnly: false }
  let parsed: Record<string, unknown>
  try {
    parsed = JSON.parse(data) as Record<string, unknown>
  } catch {
    return new UpstreamProtocolError({ providerId, detail: "a stream event is not JSON" })
  }
  if (parsed.error !== undefined && parsed.choices === undefined)
    return new UpstreamProtocolError({
      providerId,
      detail: scrubProviderMessage(errorMessageOf(JSON.stringify({ error: parsed.error })))
    })
  const usage = usageFromOpenAi(parsed.usage)
  const usageOnly = Array.isArray(parsed.choices) && parsed.choices.length === 0 && Option.isSome(usage)
  return { json: data, usage, usageOnly }
}

/**
 * OpenAI's stream: `data:` chunks until `[DONE]` (anything after it is ignored). A body that ends
 * before `[DONE]` is whole only if a choice had finished by then (a compatible server that omits
 * `[DONE]`); otherwise it was cut short, and the proxy must not end it with a `[DONE]` of its own.
 */
export const openAiEvents = (providerId: string): SseTranslation => {
  let done = false
  // The last two chunks (read only at the end): the finish_reason is in the last, or in the one
  // before a usage-only chunk.
  let last = ""
  let beforeLast = ""
  return {
    onEvents: (events, out) => {
      for (const e of events) {
        if (done) return
        if (e.data === "[DONE]") {
          done = true
          return
        }
        const c = chunkOf(providerId, e.data)
        if ("_tag" in c) throw c
        beforeLast = last
        last = e.data
        out.push(c)
      }
    },
    onEnd: () => {
      if (!done && !carriesFinish(last) && !carriesFinish(beforeLast))
        throw new UpstreamProtocolError({ providerId, detail: "the stream ended before [DONE]" })
      return []
    }
  }
}

const postOf = (request: UpstreamRequest, endpoint: OpenAiEndpoint): UpstreamPost => ({
  providerId: request.target.providerId,
  url: endpoint.url,
  headers: {
    "content-type": "application/json",
    accept: request.stream ? "text/event-stream" : "application/json",
    ...request.headers,
    ...endpoint.authHeaders
  },
  body: requestBody(request, endpoint.sendModel),
  timeouts: request.target.timeouts,
  signal: request.signal
})

/** A whole answer read: the completion it holds, or why it is not one. */
const completionOf = (
  providerId: string,
  text: Option.Option<string>
): Either.Either<
  { readonly text: string; readonly parsed: object; readonly usage: Option.Option<Usage> },
  UpstreamFailure
> => {
  if (Option.isNone(text))
    return Either.left(new UpstreamProtocolError({ providerId, detail: "the answer is too large" }))
  let parsed: unknown
  try {
    parsed = JSON.parse(text.value)
  } catch {
    return Either.left(new UpstreamProtocolError({ providerId, detail: "the answer is not JSON" }))
  }
  if (typeof parsed !== "object" || parsed === null || !Array.isArray((parsed as { choices?: unknown }).choices))
    return Either.left(new UpstreamProtocolError({ providerId, detail: "the answer is not a chat completion" }))
  return Either.right({ text: text.value, parsed, usage: usageFromOpenAi((parsed as { usage?: unknown }).usage) })
}

/**
 * One attempt in OpenAI's wire format: OpenAI itself and every compatible server (vLLM,
 * Ollama, Groq, Together, Mistral), and Azure OpenAI with its own URL and key header. A whole
 * answer is passed through as the provider's text (only its usage is read); a stream is
 * re-framed chunk by chunk as it arrives.
 */
export const callOpenAiWire = (
  http: UpstreamHttp,
  request: UpstreamRequest,
  endpoint: OpenAiEndpoint
): Effect.Effect<UpstreamResponse, UpstreamFailure> =>
  Effect.gen(function* () {
    const providerId = request.target.providerId
    const exchange = yield* http.post(postOf(request, endpoint))
    if (exchange.status < 200 || exchange.status > 299)
      return yield* upstreamHttpError(http, providerId, exchange, errorMessageOf)
    const requestId = providerRequestId(exchange, endpoint.requestIdHeaders)
    const contentType = headerOf(exchange, "content-type") ?? ""
    if (request.stream && contentType.includes("text/event-stream")) {
      const puller = yield* prime(ssePuller(http, providerId, exchange, openAiEvents(providerId)))
      return streamOf(requestId, puller)
    }
    const whole = yield* completionOf(providerId, yield* readText(http, providerId, exchange, MAX_COMPLETION_BYTES))
    if (request.stream) {
      // Asked to stream, answered whole (some compatible servers do): replay it as one chunk.
      return {
        _tag: "Stream",
        providerRequestId: requestId,
        chunks: Stream.fromIterable(asChunks(whole.parsed, whole.usage))
      }
    }
    return { _tag: "Completion", body: whole.text, usage: whole.usage, providerRequestId: requestId }
  })

/** `callOpenAiWire` through a callback: the edge's warm path (no fiber); a stream comes with its puller. */
export const callOpenAiWireNow = (
  http: UpstreamHttp,
  request: UpstreamRequest,
  endpoint: OpenAiEndpoint,
  done: UpstreamAnswered
): void => {
  const providerId = request.target.providerId
  http.postNow(postOf(request, endpoint), (posted) => {
    if (Either.isLeft(posted)) return done(Either.left(posted.left))
    const exchange = posted.right
    if (exchange.status < 200 || exchange.status > 299) {
      readTextNow(http, providerId, exchange, MAX_ERROR_BYTES, (text) =>
        done(
          Either.left(Either.isLeft(text) ? text.left : httpErrorOf(providerId, exchange, text.right, errorMessageOf))
        )
      )
      return
    }
    const requestId = providerRequestId(exchange, endpoint.requestIdHeaders)
    if (request.stream && (headerOf(exchange, "content-type") ?? "").includes("text/event-stream")) {
      primeNow(ssePuller(http, providerId, exchange, openAiEvents(providerId)), (primed) =>
        done(Either.map(primed, (puller) => streamOf(requestId, puller)))
      )
      return
    }
    readTextNow(http, providerId, exchange, MAX_COMPLETION_BYTES, (text) => {
      const whole = Either.flatMap(text, (t) => completionOf(providerId, t))
      done(
        Either.map(whole, (w): UpstreamResponse => {
          if (!request.stream) return { _tag: "Completion", body: w.text, usage: w.usage, providerRequestId: requestId }
          // Asked to stream, answered whole: replayed as one chunk, as `callOpenAiWire` does.
          const events = asChunks(w.parsed, w.usage)
          return {
            _tag: "Stream",
            providerRequestId: requestId,
            chunks: Stream.fromIterable(events),
            puller: pullerOf(events)
          }
        })
      )
    })
  })
}

const asChunks = (completion: object, usage: Option.Option<Usage>): Array<ChunkEvent> => {
  const c = completion as { id?: unknown; created?: unknown; model?: unknown; choices: Array<Record<string, unknown>> }
  const base = { id: c.id, object: "chat.completion.chunk", created: c.created, model: c.model }
  const chunk = {
    ...base,
    choices: c.choices.map((choice, index) => ({
      index,
      delta: choice.message ?? {},
      finish_reason: choice.finish_reason ?? "stop",
      logprobs: null
    }))
  }
  const out: Array<ChunkEvent> = [{ json: JSON.stringify(chunk), usage: Option.none(), usageOnly: false }]
  if (Option.isSome(usage))
    out.push({
      json: JSON.stringify({ ...base, choices: [], usage: (completion as { usage: unknown }).usage }),
      usage,
      usageOnly: true
    })
  return out
}
