import type { IncomingHttpHeaders } from "node:http"
import { Option, Redacted } from "effect"

/** `Authorization: Bearer <token>`; any other scheme or an empty value is no token (401 MISSING_TOKEN). */
export const bearerToken = (authorization: string | undefined): Option.Option<Redacted.Redacted<string>> => {
  if (authorization === undefined) return Option.none()
  const m = /^Bearer[ \t]+(.*)$/i.exec(authorization.trim())
  const token = m?.[1]?.trim()
  return token === undefined || token === "" ? Option.none() : Option.some(Redacted.make(token))
}

/** True when any raw header name or value holds CR or LF (header injection); such requests are refused. */
export const hasCrLf = (rawHeaders: ReadonlyArray<string>): boolean => {
  for (const h of rawHeaders) if (h.includes("\r") || h.includes("\n")) return true
  return false
}

/** The single value of a header, or undefined when absent. Repeated values are joined by node (", "). */
export const headerValue = (headers: IncomingHttpHeaders, lowerName: string): string | undefined => {
  const v = headers[lowerName]
  return Array.isArray(v) ? v.join(", ") : v
}

/** A W3C traceparent, strictly parsed (the domain's one parser, shared with the gRPC hop). */
export { parseTraceparent } from "@ibex/domain"
