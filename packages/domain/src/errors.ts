import { Schema } from "effect"
import { FieldError } from "./FieldError.js"
import type { IamError } from "./iam/errors.js"

/**
 * Domain errors. They say what went wrong in the domain's terms; the HTTP and gRPC status of
 * each is decided once, in ErrorCatalogue, at the edge. None of them carries a token, a hash
 * or a client-supplied value.
 */

export class MissingToken extends Schema.TaggedError<MissingToken>()("MissingToken", {}) {}

/** Why validation failed. Internal (metrics, audit); every reason answers the client identically. */
export const InvalidTokenReason = Schema.Literal(
  "malformed",
  "unknown",
  "wrong_secret",
  "revoked",
  "expired",
  "org_disabled"
)
export type InvalidTokenReason = typeof InvalidTokenReason.Type

export class InvalidToken extends Schema.TaggedError<InvalidToken>()("InvalidToken", {
  reason: InvalidTokenReason
}) {}

export class MissingAgentId extends Schema.TaggedError<MissingAgentId>()("MissingAgentId", {}) {}
export class InvalidAgentId extends Schema.TaggedError<InvalidAgentId>()("InvalidAgentId", {}) {}
export class AgentNotAuthorized extends Schema.TaggedError<AgentNotAuthorized>()("AgentNotAuthorized", {}) {}
export class AgentSuspended extends Schema.TaggedError<AgentSuspended>()("AgentSuspended", {
  status: Schema.Literal("paused", "archived", "suspended")
}) {}

export class InsufficientPermissions extends Schema.TaggedError<InsufficientPermissions>()("InsufficientPermissions", {
  required: Schema.Array(Schema.String)
}) {}

/** A path names an org other than the caller's. 403, never 404: existence is not revealed either way. */
export class OrgAccessDenied extends Schema.TaggedError<OrgAccessDenied>()("OrgAccessDenied", {}) {}

export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", {
  limit: Schema.Number,
  resetAtMs: Schema.Number,
  retryAfterMs: Schema.Number
}) {}

/**
 * Too many failed authentications from one client address: refused before any call to auth,
 * so a flood of bad tokens costs auth nothing. Retry after `retryAfterMs`.
 */
export class AuthFailuresThrottled extends Schema.TaggedError<AuthFailuresThrottled>()("AuthFailuresThrottled", {
  retryAfterMs: Schema.Number
}) {}

/** The auth service could not be reached (or did not answer in budget) while validating a token: fail closed. */
export class ServiceDegraded extends Schema.TaggedError<ServiceDegraded>()("ServiceDegraded", {}) {}
/** The auth service could not be reached while verifying an agent: fail closed. */
export class AuthUnavailable extends Schema.TaggedError<AuthUnavailable>()("AuthUnavailable", {}) {}

/** A store (Postgres) failed. The operation name is for logs; SQL text and driver messages never travel. */
export class StoreUnavailable extends Schema.TaggedError<StoreUnavailable>()("StoreUnavailable", {
  operation: Schema.String,
  /** The driver's error code (`ECONNREFUSED`, `3D000`, …): never its message, which can quote data. */
  detail: Schema.optional(Schema.String)
}) {}

/** The rate limiter's backend failed; the proxy fails open on it (ADR-0015). */
export class RateLimiterUnavailable extends Schema.TaggedError<RateLimiterUnavailable>()(
  "RateLimiterUnavailable",
  {}
) {}

export class ProviderNotConfigured extends Schema.TaggedError<ProviderNotConfigured>()("ProviderNotConfigured", {}) {}

export class ValidationFailed extends Schema.TaggedError<ValidationFailed>()("ValidationFailed", {
  fieldErrors: Schema.Array(FieldError)
}) {}

export class MalformedJson extends Schema.TaggedError<MalformedJson>()("MalformedJson", {}) {}
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", {
  limitBytes: Schema.Number
}) {}
export class UnsupportedMediaType extends Schema.TaggedError<UnsupportedMediaType>()("UnsupportedMediaType", {}) {}
export class InvalidHeader extends Schema.TaggedError<InvalidHeader>()("InvalidHeader", {}) {}
export class RouteNotFound extends Schema.TaggedError<RouteNotFound>()("RouteNotFound", {}) {}
export class MethodNotAllowed extends Schema.TaggedError<MethodNotAllowed>()("MethodNotAllowed", {
  allowed: Schema.Array(Schema.String)
}) {}
/** A token (or other tenant resource) does not exist in the caller's org. Cross-tenant looks identical. */
export class ResourceNotFound extends Schema.TaggedError<ResourceNotFound>()("ResourceNotFound", {
  resource: Schema.String
}) {}
/** No route is configured for the requested model name. */
export class ModelNotFound extends Schema.TaggedError<ModelNotFound>()("ModelNotFound", {}) {}
/** The model exists but the caller's org is limited to other models. */
export class ModelNotAllowed extends Schema.TaggedError<ModelNotAllowed>()("ModelNotAllowed", {}) {}
/** Every target failed (connect errors, 5xx, a broken answer) and nothing reached the client. */
export class UpstreamError extends Schema.TaggedError<UpstreamError>()("UpstreamError", {}) {}
/** The last target to fail timed out (connect, first byte, idle or total). */
export class UpstreamTimeout extends Schema.TaggedError<UpstreamTimeout>()("UpstreamTimeout", {}) {}
/** The provider rate-limited us past what retries and fallbacks could absorb. */
export class UpstreamRateLimited extends Schema.TaggedError<UpstreamRateLimited>()("UpstreamRateLimited", {
  retryAfterMs: Schema.Number
}) {}
/** Every target of the model is cooling down after repeated failures. */
export class UpstreamUnavailable extends Schema.TaggedError<UpstreamUnavailable>()("UpstreamUnavailable", {}) {}
/**
 * The provider refused the request itself (a 4xx such as "maximum context length exceeded"):
 * the client sees the provider's status and its own message, scrubbed of anything key-shaped.
 */
export class UpstreamRejected extends Schema.TaggedError<UpstreamRejected>()("UpstreamRejected", {
  status: Schema.Number,
  providerMessage: Schema.String,
  /** The provider's own code, passed on as `provider_code` (clients branch on `context_length_exceeded`). */
  providerCode: Schema.optional(Schema.String)
}) {}
/** The org's tokens-per-minute limit would be passed by this request's reservation. */
export class TokenRateLimited extends Schema.TaggedError<TokenRateLimited>()("TokenRateLimited", {
  limit: Schema.Number,
  remaining: Schema.Number,
  resetAtMs: Schema.Number,
  retryAfterMs: Schema.Number
}) {}
/** The org's spend this calendar month, with this request's reservation, would pass its budget. */
export class BudgetExceeded extends Schema.TaggedError<BudgetExceeded>()("BudgetExceeded", {}) {}
export class InternalError extends Schema.TaggedError<InternalError>()("InternalError", {}) {}

export type DomainError =
  | MissingToken
  | InvalidToken
  | MissingAgentId
  | InvalidAgentId
  | AgentNotAuthorized
  | AgentSuspended
  | InsufficientPermissions
  | OrgAccessDenied
  | RateLimited
  | ServiceDegraded
  | AuthUnavailable
  | StoreUnavailable
  | RateLimiterUnavailable
  | ProviderNotConfigured
  | ValidationFailed
  | MalformedJson
  | PayloadTooLarge
  | UnsupportedMediaType
  | InvalidHeader
  | RouteNotFound
  | MethodNotAllowed
  | ResourceNotFound
  | ModelNotFound
  | ModelNotAllowed
  | UpstreamError
  | UpstreamTimeout
  | UpstreamRateLimited
  | UpstreamUnavailable
  | UpstreamRejected
  | TokenRateLimited
  | AuthFailuresThrottled
  | BudgetExceeded
  | InternalError
  | IamError
