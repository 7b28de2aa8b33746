import type { IncomingMessage, ServerResponse } from "node:http"
import {
  AbortLatch,
  annotateSpanWhenTraced,
  type ForwardError,
  type Forwarded,
  type ForwardObserver,
  type ForwardRequest,
  forwardChatCompletion,
  type ProviderGateway,
  type Routing,
  type TargetHealth,
  toEnvelope,
  type UpstreamCompletion,
  UpstreamError,
  type UpstreamFailure,
  UpstreamTimeout,
  type Usage,
  withSpanWhenTraced
} from "@ibex/domain"
import { Effect, Option } from "effect"
import { addHeader, addLogField, type RequestState } from "../edge/RequestState.js"
import type { Responder } from "../edge/Responder.js"
import type { ProxyMetrics } from "../Metrics.js"
import type { ChatIntent } from "./chatRequest.js"
import { completionText, estimateUsage } from "./estimateUsage.js"
import type { Meter } from "./metering.js"
import { upstreamHeaders } from "./upstreamHeaders.js"
import { type StreamOutcome, writeStream } from "./writeStream.js"

export type ForwardRequirements = Routing | ProviderGateway | TargetHealth

/** A failure after the stream started, as the `error` event the client's SDK raises. */
const streamErrorEvent = (requestId: string) => (failure: UpstreamFailure) =>
  toEnvelope(failure._tag === "UpstreamTimedOut" ? new UpstreamTimeout() : new UpstreamError(), requestId).body

const usageAttributes = (usage: Usage): Record<string, number> => ({
  "gen_ai.usage.input_tokens": usage.promptTokens,
  "gen_ai.usage.output_tokens": usage.completionTokens
})

/** What one forwarded request carries from its start to its answer, on either path. */
export interface ForwardContext {
  readonly request: ForwardRequest
  readonly observer: ForwardObserver
}

/**
 * Before the first attempt: the upstream headers (allowlist), the correlation id echoed to the
 * client, the abort signal a client that goes away fires (it reaches the upstream socket), and
 * the observer that meters attempts.
 */
export const prepareForward = (
  req: IncomingMessage,
  res: ServerResponse,
  state: RequestState,
  intent: ChatIntent,
  orgId: string,
  spanId: string | undefined,
  meter: Meter,
  metrics: ProxyMetrics
): ForwardContext => {
  const latch = new AbortLatch()
  // Gone already (while the request waited for a limiter): nothing is sent upstream, nothing is spent.
  if (res.destroyed) latch.abort()
  else
    res.once("close", () => {
      if (!res.writableFinished) latch.abort()
    })
  const { upstream, correlationId } = upstreamHeaders(req.headers, state, spanId)
  addHeader(state, "X-Correlation-ID", correlationId)
  return {
    request: {
      orgId,
      model: intent.model,
      body: intent.body,
      stream: intent.stream,
      headers: upstream,
      signal: latch
    },
    observer: {
      attempt: (target, outcome, ms) => {
        meter.target = target
        meter.attemptStarted = performance.now() - ms
        noteAttempt(state, target)
        metrics.upstreamAttempt(target.provider.id, target.model, outcome, ms / 1000)
      },
      retry: (target) => metrics.upstreamRetry(target.provider.id, target.model),
      fallback: (target) => metrics.upstreamFallback(target.provider.id, target.model)
    }
  }
}

/**
 * Where the latest attempt went, on the response and in the access line: an error answered after
 * attempts (a provider's 400, a 502 once every target failed) names the target that gave it.
 */
const noteAttempt = (state: RequestState, target: Forwarded["target"]) => {
  addHeader(state, "X-IBEX-Provider", target.provider.id)
  addHeader(state, "X-IBEX-Model", target.model)
  addLogField(state, "provider", target.provider.id)
  addLogField(state, "upstream_model", target.model)
  addLogField(state, "attempts", ((state.logFields?.attempts as number | undefined) ?? 0) + 1)
}

/** The provider's own request id; where the answer came from, and after how many attempts, was noted per attempt. */
const noteTarget = (state: RequestState, forwarded: Forwarded) => {
  Option.map(forwarded.response.providerRequestId, (id) => addHeader(state, "X-IBEX-Provider-Request-ID", id))
}

/**
 * A whole answer, written back as the provider's text. Returns false when the provider reported
 * no usage: the caller estimates it (`estimateUsage`) before the usage is recorded.
 */
export const writeCompletion = (
  responder: Responder,
  metrics: ProxyMetrics,
  res: ServerResponse,
  state: RequestState,
  orgId: string,
  meter: Meter,
  forwarded: Forwarded & { readonly response: UpstreamCompletion }
): boolean => {
  noteTarget(state, forwarded)
  const { target, response } = forwarded
  responder.send(res, state, 200, response.body, "application/json")
  meter.usage = response.usage
  if (Option.isNone(response.usage)) return false
  metrics.tokens(target.provider.id, target.model, response.usage.value, orgId)
  return true
}

/** The usage a provider did not report, estimated from the request and the answer's text. */
export const estimateCompletionUsage = (intent: ChatIntent, meter: Meter, body: string): Effect.Effect<void> =>
  Effect.map(estimateUsage(intent, completionText(body)), (usage) => {
    meter.usage = Option.some(usage)
    meter.estimated = true
  })

/**
 * The answer written back, whole or as a stream: the forward stage's second half, after an
 * attempt succeeded (on the fiber, or handed over from the warm path).
 */
export const makeAnswerStage =
  (responder: Responder, metrics: ProxyMetrics) =>
  (
    res: ServerResponse,
    state: RequestState,
    intent: ChatIntent,
    orgId: string,
    meter: Meter,
    forwarded: Forwarded
  ): Effect.Effect<void> =>
    Effect.gen(function* () {
      const { target, response } = forwarded
      const span = { "gen_ai.system": target.provider.kind, "gen_ai.request.model": intent.model }
      yield* annotateSpanWhenTraced(span)

      if (response._tag === "Completion") {
        const reported = writeCompletion(responder, metrics, res, state, orgId, meter, { ...forwarded, response })
        if (!reported) yield* estimateCompletionUsage(intent, meter, response.body)
        else if (Option.isSome(response.usage)) yield* annotateSpanWhenTraced(usageAttributes(response.usage.value))
        return
      }
      startStream(responder, res, state, forwarded)
      const outcome = yield* writeStream(res, response.chunks, streamOptions(intent, state))
      if (!streamEnded(metrics, state, orgId, meter, forwarded, outcome))
        yield* estimateStreamUsage(intent, meter, outcome)
      else if (Option.isSome(outcome.usage)) yield* annotateSpanWhenTraced(usageAttributes(outcome.usage.value))
    })

/**
 * A stream's response headers, sent in this turn of the event loop whether or not a chunk has
 * come (a client sees its 200 as soon as the provider's), and in one write with the chunks that
 * arrived with the provider's headers: the socket is corked until the check phase. The first
 * chunk of an upstream usually shares the read that brought its headers; written apart, they were
 * two syscalls and two wake-ups of the client before it had the chunk it waits for.
 */
export const startStream = (responder: Responder, res: ServerResponse, state: RequestState, forwarded: Forwarded) => {
  noteTarget(state, forwarded)
  state.status = 200
  if (res.destroyed) return
  const headers = responder.headersFor(state)
  headers["Content-Type"] = "text/event-stream; charset=utf-8"
  headers["Cache-Control"] = "no-cache"
  headers["X-Accel-Buffering"] = "no"
  res.cork()
  res.writeHead(200, headers)
  res.flushHeaders()
  setImmediate(uncorkResponse, res)
}

const uncorkResponse = (res: ServerResponse) => res.uncork()

export const streamOptions = (intent: ChatIntent, state: RequestState) => ({
  wantsUsageChunk: intent.wantsUsageChunk,
  errorEvent: streamErrorEvent(state.requestId),
  requestStarted: state.started
})

/**
 * What a written stream leaves for the usage record, the metrics and the access line. Returns
 * false when the provider reported no usage: the caller estimates it (`estimateStreamUsage`).
 */
export const streamEnded = (
  metrics: ProxyMetrics,
  state: RequestState,
  orgId: string,
  meter: Meter,
  forwarded: Forwarded,
  outcome: StreamOutcome
): boolean => {
  const { target } = forwarded
  meter.firstChunkMs = outcome.firstChunkMs
  meter.usage = outcome.usage
  // The provider's share: from the attempt that served (not the request's arrival: its wait for
  // auth, its retries and other targets' failures are not this target's).
  if (outcome.firstChunkMs !== undefined)
    metrics.timeToFirstChunk(
      target.provider.id,
      target.model,
      Math.max(0, state.started + outcome.firstChunkMs - (meter.attemptStarted ?? state.started)) / 1000
    )
  if (Option.isSome(outcome.usage)) metrics.tokens(target.provider.id, target.model, outcome.usage.value, orgId)
  if (outcome.clientGone) state.status = 499
  else if (Option.isSome(outcome.failure)) {
    state.errorCode = outcome.failure.value._tag === "UpstreamTimedOut" ? "UPSTREAM_TIMEOUT" : "UPSTREAM_ERROR"
    metrics.upstreamStreamFailure(target.provider.id, target.model, outcome.failure.value._tag)
  }
  return Option.isSome(outcome.usage)
}

/** A stream's usage the provider did not report, estimated from the request and what was delivered. */
export const estimateStreamUsage = (intent: ChatIntent, meter: Meter, outcome: StreamOutcome): Effect.Effect<void> =>
  Effect.map(estimateUsage(intent, outcome.deliveredText()), (usage) => {
    meter.usage = Option.some(usage)
    meter.estimated = true
  })

/**
 * The last stage: the request goes to the model's targets (retries, fallback, cooldown in the
 * domain's `forwardChatCompletion`), and the answer is written back whole or as a stream. A
 * client that goes away aborts the upstream request at once (the signal reaches the socket).
 */
export const makeForwardStage = (responder: Responder, metrics: ProxyMetrics) => {
  const answer = makeAnswerStage(responder, metrics)
  return (
    req: IncomingMessage,
    res: ServerResponse,
    state: RequestState,
    intent: ChatIntent,
    orgId: string,
    spanId: string | undefined,
    meter: Meter
  ): Effect.Effect<void, ForwardError, ForwardRequirements> =>
    Effect.suspend(() => {
      const context = prepareForward(req, res, state, intent, orgId, spanId, meter, metrics)
      return Effect.flatMap(forwardChatCompletion(context.request, context.observer), (forwarded) =>
        answer(res, state, intent, orgId, meter, forwarded)
      )
    }).pipe(withSpanWhenTraced("Proxy.forward", { kind: "client", captureStackTrace: false }))
}
