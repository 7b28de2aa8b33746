import type { ServerResponse } from "node:http"
import { type DomainError, resetUnixSeconds, retryAfterSeconds, toEnvelope } from "@ibex/domain"
import type { ProxyConfigShape } from "../ProxyConfig.js"
import { RETRY_AFTER_UNAVAILABLE_SECONDS } from "../routes.js"
import type { RequestState } from "./RequestState.js"

/** The "response headers" middleware: every answer carries the request id, trace id, timing and rate-limit headers. */
export interface Responder {
  readonly headersFor: (state: RequestState) => Record<string, string>
  readonly send: (
    res: ServerResponse,
    state: RequestState,
    status: number,
    body: string,
    contentType: string,
    extra?: Record<string, string>
  ) => void
  readonly sendJson: (res: ServerResponse, state: RequestState, status: number, value: unknown) => void
  readonly sendError: (
    res: ServerResponse,
    state: RequestState,
    error: DomainError,
    extra?: Record<string, string>
  ) => void
}

export const makeResponder = (config: ProxyConfigShape, draining: () => boolean): Responder => {
  const headersFor = (state: RequestState): Record<string, string> => {
    const h: Record<string, string> = {
      [config.headers.requestId]: state.requestId,
      [config.headers.traceId]: state.traceId,
      [config.headers.responseTime]: `${(performance.now() - state.started).toFixed(3)}ms`
    }
    if (state.rate !== undefined) {
      h["X-RateLimit-Limit"] = String(state.rate.limit)
      h["X-RateLimit-Remaining"] = String(state.rate.remaining)
      h["X-RateLimit-Reset"] = String(resetUnixSeconds(state.rate))
      if (!state.rate.allowed) h["Retry-After"] = String(retryAfterSeconds(state.rate))
    }
    if (state.extraHeaders !== undefined) Object.assign(h, state.extraHeaders)
    // While draining, each answer closes its connection, so keep-alive clients reconnect elsewhere.
    if (draining()) h.Connection = "close"
    return h
  }

  const send: Responder["send"] = (res, state, status, body, contentType, extra) => {
    state.status = status
    if (res.headersSent || res.destroyed) return
    const headers = headersFor(state)
    headers["Content-Type"] = contentType
    headers["Content-Length"] = String(Buffer.byteLength(body))
    if (extra !== undefined) Object.assign(headers, extra)
    if (status === 503) headers["Retry-After"] ??= RETRY_AFTER_UNAVAILABLE_SECONDS
    res.writeHead(status, headers)
    res.end(body)
  }

  return {
    headersFor,
    send,
    sendJson: (res, state, status, value) => send(res, state, status, JSON.stringify(value), "application/json"),
    sendError: (res, state, error, extra) => {
      const { status, body } = toEnvelope(error, state.requestId)
      state.errorCode = body.error.code
      let headers = extra
      if (
        error._tag === "UpstreamRateLimited" ||
        error._tag === "TokenRateLimited" ||
        error._tag === "AuthFailuresThrottled"
      )
        headers = { ...extra, "Retry-After": String(Math.max(1, Math.ceil(error.retryAfterMs / 1000))) }
      // A 429 the same request would get again: the OpenAI SDKs retry every 429 unless told not to.
      else if (error._tag === "BudgetExceeded") headers = { ...extra, "x-should-retry": "false" }
      send(res, state, status, JSON.stringify(body), "application/json", headers)
    }
  }
}
