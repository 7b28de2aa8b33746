import type { IncomingHttpHeaders } from "node:http"
import { Option, Redacted } from "effect"
import type { ProxyHeaderNames } from "./ProxyConfig.js"

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

const identityPatterns: ReadonlyArray<RegExp> = [
  // Our own namespace: everything X-IBEX-* downstream is set by the proxy from the validated token.
  /^x-ibex-/,
  // Anything claiming an org, tenant, user, account or principal.
  /^x-(org|organization|tenant|user|account|principal|auth|authenticated|remote|forwarded)[-_]/,
  /(^|-)(org|organization|tenant|user|account|principal)[-_]?(id|name|email)?$/,
  /^remote-user$/,
  // What the proxy sets on the way downstream.
  /^forwarded$/,
  /^x-forwarded-/,
  /^x-real-ip$/,
  /^x-client-ip$/
]

const secretHeaders = new Set(["authorization", "proxy-authorization", "cookie"])

/** Whether an inbound header is dropped before anything downstream can see it. */
export const isDroppedInboundHeader = (name: string, names: ProxyHeaderNames): boolean => {
  const lower = name.toLowerCase()
  if (secretHeaders.has(lower)) return true
  if (
    lower === names.agentId.toLowerCase() ||
    lower === names.requestId.toLowerCase() ||
    lower === names.traceId.toLowerCase() ||
    lower === names.responseTime.toLowerCase()
  )
    return true
  return identityPatterns.some((p) => p.test(lower))
}

/**
 * The inbound headers a provider handoff may forward: identity claims (any org / user / tenant
 * header, anything in X-IBEX-*), credentials, and every header the proxy itself sets downstream
 * are dropped. Org context comes from the validated token, never from a header.
 */
export const sanitizeInboundHeaders = (
  headers: IncomingHttpHeaders,
  names: ProxyHeaderNames
): Readonly<Record<string, string>> => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || isDroppedInboundHeader(name, names)) continue
    out[name] = Array.isArray(value) ? value.join(", ") : value
  }
  return out
}

/** The single value of a header, or undefined when absent. Repeated values are joined by node (", "). */
export const headerValue = (headers: IncomingHttpHeaders, lowerName: string): string | undefined => {
  const v = headers[lowerName]
  return Array.isArray(v) ? v.join(", ") : v
}

/** A W3C traceparent, strictly parsed (the domain's one parser, shared with the gRPC hop). */
export { parseTraceparent } from "@ibex/domain"
