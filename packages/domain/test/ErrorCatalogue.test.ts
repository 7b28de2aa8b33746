import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
import { ErrorCatalogue } from "../src/ErrorCatalogue.js"
import { ErrorEnvelope, toEnvelope } from "../src/ErrorEnvelope.js"
import * as Errors from "../src/errors.js"
import { FieldError } from "../src/FieldError.js"

describe("error catalogue and envelope", () => {
  it("pins the published codes and statuses (stable API)", () => {
    const pinned = Object.fromEntries(
      Object.entries(ErrorCatalogue).map(([tag, e]) => [tag, `${e.code} ${e.httpStatus} ${e.grpcStatus}`])
    )
    expect(pinned).toMatchInlineSnapshot(`
      {
        "ActionDenied": "ACTION_DENIED 403 7",
        "AgentNotAuthorized": "AGENT_NOT_AUTHORIZED 403 7",
        "AgentSuspended": "AGENT_SUSPENDED 403 7",
        "AuthUnavailable": "AUTH_UNAVAILABLE 503 14",
        "BudgetExceeded": "BUDGET_EXCEEDED 429 8",
        "Conflict": "CONFLICT 409 6",
        "CsrfFailed": "CSRF_FAILED 403 7",
        "InsufficientPermissions": "INSUFFICIENT_PERMISSIONS 403 7",
        "InternalError": "INTERNAL_ERROR 500 13",
        "InvalidAgentId": "INVALID_AGENT_ID 400 3",
        "InvalidCredentials": "INVALID_CREDENTIALS 401 16",
        "InvalidHeader": "INVALID_HEADER 400 3",
        "InvalidMfaCode": "INVALID_MFA_CODE 401 16",
        "InvalidOrExpiredLink": "INVALID_OR_EXPIRED_LINK 400 3",
        "InvalidOrgId": "INVALID_ORG_ID 400 3",
        "InvalidRefreshToken": "INVALID_REFRESH_TOKEN 401 16",
        "InvalidToken": "INVALID_TOKEN 401 16",
        "MalformedJson": "INVALID_JSON 400 3",
        "MethodNotAllowed": "METHOD_NOT_ALLOWED 405 12",
        "MissingAgentId": "MISSING_AGENT_ID 400 3",
        "MissingToken": "MISSING_TOKEN 401 16",
        "ModelNotAllowed": "MODEL_NOT_ALLOWED 403 7",
        "ModelNotFound": "MODEL_NOT_FOUND 404 5",
        "OrgAccessDenied": "ORG_ACCESS_DENIED 403 7",
        "OrgRequired": "ORG_REQUIRED 400 3",
        "PayloadTooLarge": "PAYLOAD_TOO_LARGE 413 8",
        "ProviderNotConfigured": "PROVIDER_NOT_CONFIGURED 501 12",
        "RateLimited": "RATE_LIMITED 429 8",
        "RateLimiterUnavailable": "RATE_LIMITER_UNAVAILABLE 503 14",
        "ResourceNotFound": "NOT_FOUND 404 5",
        "RouteNotFound": "NOT_FOUND 404 5",
        "ServiceDegraded": "SERVICE_DEGRADED 503 14",
        "SessionRequired": "SESSION_REQUIRED 401 16",
        "StoreUnavailable": "STORE_UNAVAILABLE 503 14",
        "TokenRateLimited": "TOKEN_RATE_LIMITED 429 8",
        "TooManyAttempts": "TOO_MANY_ATTEMPTS 429 8",
        "UnsupportedMediaType": "UNSUPPORTED_MEDIA_TYPE 415 3",
        "UpstreamError": "UPSTREAM_ERROR 502 14",
        "UpstreamRateLimited": "UPSTREAM_RATE_LIMITED 429 8",
        "UpstreamRejected": "UPSTREAM_REJECTED 400 3",
        "UpstreamTimeout": "UPSTREAM_TIMEOUT 504 4",
        "UpstreamUnavailable": "UPSTREAM_UNAVAILABLE 503 14",
        "ValidationFailed": "VALIDATION_FAILED 400 3",
      }
    `)
  })

  it("every invalid-token reason answers the same status, code and message", () => {
    const reasons = Errors.InvalidTokenReason.literals
    const envelopes = reasons.map((reason) => toEnvelope(new Errors.InvalidToken({ reason }), "rid"))
    for (const e of envelopes) expect(e).toEqual(envelopes[0])
    expect(JSON.stringify(envelopes[0])).not.toMatch(/revoked"|expired"|wrong_secret|unknown"/)
  })

  it("envelopes decode with the published schema; field_errors only on validation errors", () => {
    const plain = toEnvelope(new Errors.RateLimited({ limit: 60, resetAtMs: 1, retryAfterMs: 1 }), "r1")
    expect(plain.status).toBe(429)
    expect(Schema.decodeUnknownSync(ErrorEnvelope)(plain.body).error.field_errors).toBeUndefined()
    const invalid = toEnvelope(
      new Errors.ValidationFailed({
        fieldErrors: [new FieldError({ field: "messages.0.role", message: "must be one of …" })]
      }),
      "r2"
    )
    expect(invalid.body.error.field_errors).toEqual([{ field: "messages.0.role", message: "must be one of …" }])
    expect(invalid.body.error.request_id).toBe("r2")
    expect(Schema.decodeUnknownSync(ErrorEnvelope)(invalid.body).error.type).toBe("invalid_request_error")
  })

  it("catalogue messages are fixed text", () => {
    for (const entry of Object.values(ErrorCatalogue)) {
      expect(entry.message.length).toBeGreaterThan(5)
      expect(entry.code).toMatch(/^[A-Z_]+$/)
    }
  })
})
