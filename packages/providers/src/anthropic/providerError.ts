import { Predicate } from "effect"

/**
 * Anthropic's errors, read for the proxy's error mapping. Every Anthropic error body is
 * `{"type":"error","error":{"type":"<kind>","message":"..."},"request_id":"..."}`; a body that is
 * not (a gateway's HTML page, a 413 from Cloudflare, an empty body) still yields a message.
 */

/** The provider's message for a non-2xx answer (not yet scrubbed: the caller scrubs every provider message). */
export const fromAnthropicError = (status: number, json: unknown): string => {
  const error = Predicate.isRecord(json) ? json.error : undefined
  if (Predicate.isRecord(error)) {
    if (typeof error.message === "string" && error.message !== "") return error.message
    if (typeof error.type === "string" && error.type !== "") return `Anthropic answered HTTP ${status} (${error.type})`
  }
  return `Anthropic answered HTTP ${status}`
}

/**
 * The HTTP status Anthropic documents for an error `type`: for an `error` event inside a
 * stream that already answered 200, so it can be reported like the same error before the
 * stream (an overloaded stream is a 529, to be retried elsewhere like one). Undefined for a
 * type it does not document.
 */
export const statusOfAnthropicErrorType = (errorType: string): number | undefined => {
  switch (errorType) {
    case "invalid_request_error":
      return 400
    case "authentication_error":
      return 401
    case "billing_error":
      return 402
    case "permission_error":
      return 403
    case "not_found_error":
      return 404
    case "request_too_large":
      return 413
    case "rate_limit_error":
      return 429
    case "api_error":
      return 500
    case "timeout_error":
      return 504
    case "overloaded_error":
      return 529
    default:
      return undefined
  }
}
