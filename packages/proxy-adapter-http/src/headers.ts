import type { IncomingHttpHeaders } from "node:http"
import { Option, Redacted } from "effect"

/** `Authorization: Bearer <token>`; any other scheme or an empty value is no token (401 MISSING_TOKEN). */
export const bearerToken = (authorization: string | undefined): Option.Option<Redacted.Redacted<string>> => {
  if (authorization === undefined) return Option.none()
  const m = /^Bearer[ \t]+(.*)$/i.exec(authorization.trim())
  const token = m?.[1]?.trim()
  return token === undefined || token === "" ? Option.none() : Option.some(Redacted.make(token))
}

/**
 * True when the raw headers are refused (400 INVALID_HEADER): a name or value holding CR or LF
 * (header injection), or more than one `Authorization`. Node keeps the first of those and drops
 * the others, while a proxy in front may have read the last: which credential the request
 * carries must not depend on who reads it.
 */
export const refusedHeaders = (rawHeaders: ReadonlyArray<string>): boolean => {
  let authorization = 0
  for (let i = 0; i < rawHeaders.length; i++) {
    const h = rawHeaders[i] as string
    if (h.includes("\r") || h.includes("\n")) return true
    if (i % 2 === 0 && h.length === 13 && h.toLowerCase() === "authorization" && ++authorization > 1) return true
  }
  return false
}

/** The single value of a header, or undefined when absent. Repeated values are joined by node (", "). */
export const headerValue = (headers: IncomingHttpHeaders, lowerName: string): string | undefined => {
  const v = headers[lowerName]
  return Array.isArray(v) ? v.join(", ") : v
}

/** A W3C traceparent, strictly parsed (the domain's one parser, shared with the gRPC hop). */
export { parseTraceparent } from "@ibex/domain"
