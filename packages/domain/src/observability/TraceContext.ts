/**
 * W3C Trace Context (`traceparent`), the one format both hops use: the proxy continues an
 * inbound header, the gRPC client sends its current span as metadata, and the auth server
 * parents its RPC span on it. Only ids and the sampled flag cross; nothing else is read.
 */
export interface TraceParent {
  /** 32 lowercase hex digits, not all zero. */
  readonly traceId: string
  /** 16 lowercase hex digits, not all zero. */
  readonly spanId: string
  readonly sampled: boolean
}

const TRACEPARENT_LENGTH = 55
/** Longer values are refused before any matching (a future version may append fields, but not kilobytes). */
const MAX_TRACEPARENT_LENGTH = 512
const traceparentPattern = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})/
const allZero = /^0+$/
const traceIdPattern = /^[0-9a-f]{32}$/
const spanIdPattern = /^[0-9a-f]{16}$/

/**
 * Parses a `traceparent` value strictly (W3C Trace Context level 1, section 3.2): lowercase hex
 * only, no surrounding whitespace, version `ff` refused, version `00` exactly 55 characters, a
 * later version at least 55 with a `-` after the flags. All-zero trace or span ids are invalid.
 * Anything else is undefined: the caller starts a fresh trace and never echoes the input.
 */
export const parseTraceparent = (value: string | undefined): TraceParent | undefined => {
  if (value === undefined || value.length < TRACEPARENT_LENGTH || value.length > MAX_TRACEPARENT_LENGTH)
    return undefined
  const m = traceparentPattern.exec(value)
  if (m === null) return undefined
  const [, version, traceId, spanId, flags] = m as unknown as [string, string, string, string, string]
  if (version === "ff") return undefined
  if (version === "00" ? value.length !== TRACEPARENT_LENGTH : value.length > TRACEPARENT_LENGTH && value[55] !== "-")
    return undefined
  if (allZero.test(traceId) || allZero.test(spanId)) return undefined
  return { traceId, spanId, sampled: (Number.parseInt(flags, 16) & 1) === 1 }
}

/** The `traceparent` (version 00) of a span; undefined when its ids are not W3C-shaped. */
export const formatTraceparent = (span: TraceParent): string | undefined =>
  traceIdPattern.test(span.traceId) &&
  spanIdPattern.test(span.spanId) &&
  !allZero.test(span.traceId) &&
  !allZero.test(span.spanId)
    ? `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`
    : undefined
