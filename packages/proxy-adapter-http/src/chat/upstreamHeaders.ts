import type { IncomingHttpHeaders } from "node:http"
import { formatTraceparent, parseTraceparent } from "@ibex/domain"
import type { RequestState } from "../edge/RequestState.js"
import { headerValue } from "../headers.js"

const correlationPattern = /^[A-Za-z0-9._:/@+=-]{1,128}$/

/**
 * The only headers a provider sees from us, besides its own content type and key: an
 * allowlist, so nothing the client sent (its Authorization, cookies, X-IBEX-*, api-key,
 * x-api-key, identity claims) can reach a provider by being forgotten in a denylist.
 * `x-correlation-id` is the client's when it is a sane token, otherwise the request id;
 * either way the client gets it back.
 */
export const upstreamHeaders = (
  headers: IncomingHttpHeaders,
  state: RequestState,
  spanId: string | undefined
): { readonly upstream: Record<string, string>; readonly correlationId: string } => {
  const inbound = headerValue(headers, "x-correlation-id")
  const correlationId = inbound !== undefined && correlationPattern.test(inbound) ? inbound : state.requestId
  const upstream: Record<string, string> = { "x-request-id": state.requestId, "x-correlation-id": correlationId }
  const parent = parseTraceparent(headerValue(headers, "traceparent"))
  const traceparent =
    spanId !== undefined && state.traceId !== ""
      ? formatTraceparent({ traceId: state.traceId, spanId, sampled: parent?.sampled ?? true })
      : parent === undefined
        ? undefined
        : formatTraceparent(parent)
  if (traceparent !== undefined) upstream.traceparent = traceparent
  return { upstream, correlationId }
}
