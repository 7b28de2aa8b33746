import { Context, type Effect, type Either, type Option, type Redacted, Schema, type Stream } from "effect"
import type { AbortSignalLike } from "./AbortLatch.js"

/**
 * What the proxy hands a provider adapter and what it gets back. Every adapter speaks OpenAI's
 * chat-completions shape on this side of the port, whatever its provider speaks on the wire:
 * the edge never learns a provider's dialect.
 */

export const ProviderKind = Schema.Literal("openai", "azure-openai", "anthropic")
export type ProviderKind = typeof ProviderKind.Type

/** Per-target time bounds. A stream that stalls between chunks is cut at `idleMs`. */
export interface TargetTimeouts {
  readonly connectMs: number
  readonly firstByteMs: number
  readonly idleMs: number
  readonly totalMs: number
}

/** One resolved place a request can go: a provider's endpoint plus the model name it knows. */
export interface UpstreamTarget {
  readonly providerId: string
  readonly kind: ProviderKind
  /** e.g. `https://api.openai.com/v1`, `https://x.openai.azure.com`, `https://api.anthropic.com`. */
  readonly baseUrl: string
  readonly apiKey: Option.Option<Redacted.Redacted<string>>
  /** Azure's `api-version`, Anthropic's `anthropic-version`. */
  readonly apiVersion: Option.Option<string>
  /** The upstream's model name (an Azure deployment name for azure-openai). */
  readonly model: string
  readonly timeouts: TargetTimeouts
}

export interface UpstreamRequest {
  readonly target: UpstreamTarget
  /** The validated OpenAI chat request as the client sent it (unknown fields kept); `model` is replaced by the adapter. */
  readonly body: Readonly<Record<string, unknown>>
  readonly stream: boolean
  /** Already allowlisted by the edge: request id, trace context, correlation id. */
  readonly headers: Readonly<Record<string, string>>
  /** Fires when the client goes away: the upstream request is aborted at once. */
  readonly signal: AbortSignalLike
}

export interface Usage {
  readonly promptTokens: number
  readonly completionTokens: number
  readonly cachedTokens: number
  readonly totalTokens: number
}

/** A whole (non-streamed) answer, already in OpenAI's `chat.completion` shape. */
export interface UpstreamCompletion {
  readonly _tag: "Completion"
  /** The JSON text of the `chat.completion` object. */
  readonly body: string
  readonly usage: Option.Option<Usage>
  readonly providerRequestId: Option.Option<string>
}

/** One `chat.completion.chunk`, as the JSON text of its `data:` line. */
export interface ChunkEvent {
  readonly json: string
  /** The usage this chunk carries (OpenAI sends it in a last chunk with no choices). */
  readonly usage: Option.Option<Usage>
  /** True for the extra usage-only chunk that `stream_options.include_usage` asks for. */
  readonly usageOnly: boolean
}

/**
 * A stream's chunks pulled through a callback, one batch (what one upstream read produced) per
 * pull, without a fiber: `null` once the stream ended. `pull` returns a canceller for a pull
 * still waiting; `release` frees the upstream connection and must be called once, however the
 * reading ends.
 */
export interface ChunkPuller {
  readonly pull: (done: (batch: Either.Either<ReadonlyArray<ChunkEvent> | null, UpstreamFailure>) => void) => () => void
  readonly release: () => void
}

/** A stream whose headers arrived; chunks follow as they come, ending without `[DONE]` (the edge writes it). */
export interface UpstreamStream {
  readonly _tag: "Stream"
  readonly providerRequestId: Option.Option<string>
  readonly chunks: Stream.Stream<ChunkEvent, UpstreamFailure>
  /** The same chunks through callbacks, when the adapter reads them that way: read one or the other. */
  readonly puller?: ChunkPuller
}

export type UpstreamResponse = UpstreamCompletion | UpstreamStream

// ---- failures (adapter-level; the forwarding use case maps them to domain errors) ----

/** Could not connect (refused, reset, DNS, TLS) or the connection dropped before an answer. */
export class UpstreamConnectFailed extends Schema.TaggedError<UpstreamConnectFailed>()("UpstreamConnectFailed", {
  providerId: Schema.String,
  detail: Schema.String
}) {}

/** The upstream answered with a non-2xx status. `message` is the provider's own, scrubbed of anything key-shaped. */
export class UpstreamHttpError extends Schema.TaggedError<UpstreamHttpError>()("UpstreamHttpError", {
  providerId: Schema.String,
  status: Schema.Number,
  retryAfterMs: Schema.OptionFromSelf(Schema.Number),
  message: Schema.String,
  /** The provider's own error code (`context_length_exceeded`), when it gave an identifier-shaped one. */
  providerCode: Schema.optional(Schema.String)
}) {}

export const TimeoutPhase = Schema.Literal("connect", "first_byte", "idle", "total")
export type TimeoutPhase = typeof TimeoutPhase.Type

export class UpstreamTimedOut extends Schema.TaggedError<UpstreamTimedOut>()("UpstreamTimedOut", {
  providerId: Schema.String,
  phase: TimeoutPhase
}) {}

/** The upstream answered 2xx with something that is not its protocol (bad JSON, a broken event stream). */
export class UpstreamProtocolError extends Schema.TaggedError<UpstreamProtocolError>()("UpstreamProtocolError", {
  providerId: Schema.String,
  detail: Schema.String
}) {}

/** The client went away; the upstream request was aborted. Nothing to answer. */
export class UpstreamAborted extends Schema.TaggedError<UpstreamAborted>()("UpstreamAborted", {
  providerId: Schema.String
}) {}

/** This provider cannot express the request (e.g. `n` > 1 for a provider without it): another target may. */
export class UpstreamRequestUnsupported extends Schema.TaggedError<UpstreamRequestUnsupported>()(
  "UpstreamRequestUnsupported",
  { providerId: Schema.String, field: Schema.String, message: Schema.String }
) {}

export type UpstreamFailure =
  | UpstreamRequestUnsupported
  | UpstreamConnectFailed
  | UpstreamHttpError
  | UpstreamTimedOut
  | UpstreamProtocolError
  | UpstreamAborted

/** One provider kind's wire dialect. A new kind is one module implementing this, plus its contract-suite entry. */
export interface ProviderAdapter {
  readonly kind: ProviderKind
  readonly call: (request: UpstreamRequest) => Effect.Effect<UpstreamResponse, UpstreamFailure>
  /** `call` through a callback, without a fiber; see `ProviderGatewayShape.callNow`. */
  readonly callNow?: UpstreamCallNow
}

/**
 * One attempt answered through `done`, without a fiber: the edge's warm path. A stream's answer
 * carries its `puller`; `request.signal` aborts it, as it does `call`.
 */
export type UpstreamCallNow = (request: UpstreamRequest, done: UpstreamAnswered) => void

/** Where a fiber-less attempt's answer goes: the response (a stream with its puller), or why none. */
export type UpstreamAnswered = (result: Either.Either<UpstreamResponse, UpstreamFailure>) => void

export interface ProviderGatewayShape {
  /** Sends one attempt to `request.target`, in the target kind's dialect. No retries here. */
  readonly call: (request: UpstreamRequest) => Effect.Effect<UpstreamResponse, UpstreamFailure>
  /**
   * The same attempt through a callback (no fiber per request on the warm path). Returns false,
   * without calling `done`, when the target's kind has no such path; the edge then uses `call`.
   * Optional.
   */
  readonly callNow?: (request: UpstreamRequest, done: UpstreamAnswered) => boolean
}

export class ProviderGateway extends Context.Tag("@ibex/domain/ProviderGateway")<
  ProviderGateway,
  ProviderGatewayShape
>() {}

const keyShaped =
  /(sk-[A-Za-z0-9_-]{8,}|sk-ant-[A-Za-z0-9_-]{8,}|ibex_pat_[A-Za-z0-9_-]+|Bearer\s+\S+|[A-Fa-f0-9]{32,}|[A-Za-z0-9+/_-]{40,}={0,2})/g

/** A provider's error text made safe to show a client or log: key-shaped runs removed, bounded. */
export const scrubProviderMessage = (message: string): string =>
  message.replace(keyShaped, "[redacted]").slice(0, 1_000)
