import type { DomainError } from "./errors.js"

/** gRPC status codes by name (numbers are fixed by the gRPC spec; the domain imports no gRPC library). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16
} as const
export type GrpcStatus = (typeof GrpcStatus)[keyof typeof GrpcStatus]

/** The `type` field of the envelope, in the vocabulary the official OpenAI SDKs read. */
export type ErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "rate_limit_error"
  | "server_error"
  | "service_unavailable_error"
  | "not_implemented_error"
  | "insufficient_quota"

export interface CatalogueEntry {
  /** Stable API: once published, never renamed. */
  readonly code: string
  readonly httpStatus: number
  readonly grpcStatus: GrpcStatus
  readonly type: ErrorType
  /** Fixed text: never built from request data. */
  readonly message: string
}

type Tag = DomainError["_tag"]

/** The one table from domain error to wire status. Every edge maps through it. */
export const ErrorCatalogue: { readonly [K in Tag]: CatalogueEntry } = {
  MissingToken: {
    code: "MISSING_TOKEN",
    httpStatus: 401,
    grpcStatus: GrpcStatus.UNAUTHENTICATED,
    type: "authentication_error",
    message: "An Authorization: Bearer token is required."
  },
  // Unknown, malformed, wrong secret, revoked, expired and disabled-org tokens all answer this,
  // word for word, so a caller cannot tell which one it hit (no enumeration).
  InvalidToken: {
    code: "INVALID_TOKEN",
    httpStatus: 401,
    grpcStatus: GrpcStatus.UNAUTHENTICATED,
    type: "authentication_error",
    message: "The access token is invalid, expired or revoked."
  },
  MissingAgentId: {
    code: "MISSING_AGENT_ID",
    httpStatus: 400,
    grpcStatus: GrpcStatus.INVALID_ARGUMENT,
    type: "invalid_request_error",
    message: "The X-IBEX-Agent-ID header is required."
  },
  InvalidAgentId: {
    code: "INVALID_AGENT_ID",
    httpStatus: 400,
    grpcStatus: GrpcStatus.INVALID_ARGUMENT,
    type: "invalid_request_error",
    message: "The X-IBEX-Agent-ID header must be a UUID."
  },
  AgentNotAuthorized: {
    code: "AGENT_NOT_AUTHORIZED",
    httpStatus: 403,
    grpcStatus: GrpcStatus.PERMISSION_DENIED,
    type: "permission_error",
    message: "The agent is not authorized for this token's organization."
  },
  AgentSuspended: {
    code: "AGENT_SUSPENDED",
    httpStatus: 403,
    grpcStatus: GrpcStatus.PERMISSION_DENIED,
    type: "permission_error",
    message: "The agent is not active."
  },
  InsufficientPermissions: {
    code: "INSUFFICIENT_PERMISSIONS",
    httpStatus: 403,
    grpcStatus: GrpcStatus.PERMISSION_DENIED,
    type: "permission_error",
    message: "The token lacks the permission this operation requires."
  },
  OrgAccessDenied: {
    code: "ORG_ACCESS_DENIED",
    httpStatus: 403,
    grpcStatus: GrpcStatus.PERMISSION_DENIED,
    type: "permission_error",
    message: "This credential (token or session) may not act on this organization."
  },
  RateLimited: {
    code: "RATE_LIMITED",
    httpStatus: 429,
    grpcStatus: GrpcStatus.RESOURCE_EXHAUSTED,
    type: "rate_limit_error",
    message: "The organization's request rate limit was exceeded. Retry after the time in Retry-After."
  },
  AuthFailuresThrottled: {
    code: "AUTH_FAILURES_THROTTLED",
    httpStatus: 429,
    grpcStatus: GrpcStatus.RESOURCE_EXHAUSTED,
    type: "rate_limit_error",
    message: "Too many failed authentications from this address. Retry after the time in Retry-After."
  },
  ServiceDegraded: {
    code: "SERVICE_DEGRADED",
    httpStatus: 503,
    grpcStatus: GrpcStatus.UNAVAILABLE,
    type: "service_unavailable_error",
    message: "Authentication is temporarily unavailable. Retry shortly."
  },
  AuthUnavailable: {
    code: "AUTH_UNAVAILABLE",
    httpStatus: 503,
    grpcStatus: GrpcStatus.UNAVAILABLE,
    type: "service_unavailable_error",
    message: "Agent verification is temporarily unavailable. Retry shortly."
  },
  StoreUnavailable: {
    code: "STORE_UNAVAILABLE",
    httpStatus: 503,
    grpcStatus: GrpcStatus.UNAVAILABLE,
    type: "service_unavailable_error",
    message: "A backing store is temporarily unavailable. Retry shortly."
  },
  RateLimiterUnavailable: {
    code: "RATE_LIMITER_UNAVAILABLE",
    httpStatus: 503,
    grpcStatus: GrpcStatus.UNAVAILABLE,
    type: "service_unavailable_error",
    message: "The rate limiter is temporarily unavailable."
  },
  ProviderNotConfigured: {
    code: "PROVIDER_NOT_CONFIGURED",
    httpStatus: 501,
    grpcStatus: GrpcStatus.UNIMPLEMENTED,
    type: "not_implemented_error",
    message: "No LLM provider is configured for this route yet."
  },
  ValidationFailed: {
    code: "VALIDATION_FAILED",
    httpStatus: 400,
    grpcStatus: GrpcStatus.INVALID_ARGUMENT,
    type: "invalid_request_error",
    message: "The request is invalid; see field_errors."
  },
  MalformedJson: {
    code: "INVALID_JSON",
    httpStatus: 400,
    grpcStatus: GrpcStatus.INVALID_ARGUMENT,
    type: "invalid_request_error",
    message: "The request body is not valid JSON."
  },
  PayloadTooLarge: {
    code: "PAYLOAD_TOO_LARGE",
    httpStatus: 413,
    grpcStatus: GrpcStatus.RESOURCE_EXHAUSTED,
    type: "invalid_request_error",
    message: "The request body exceeds the size limit."
  },
  UnsupportedMediaType: {
    code: "UNSUPPORTED_MEDIA_TYPE",
    httpStatus: 415,
    grpcStatus: GrpcStatus.INVALID_ARGUMENT,
    type: "invalid_request_error",
    message: "The request body must be application/json."
  },
  InvalidHeader: {
    code: "INVALID_HEADER",
    httpStatus: 400,
    grpcStatus: GrpcStatus.INVALID_ARGUMENT,
    type: "invalid_request_error",
    message: "A request header is malformed."
  },
  RouteNotFound: {
    code: "NOT_FOUND",
    httpStatus: 404,
    grpcStatus: GrpcStatus.NOT_FOUND,
    type: "not_found_error",
    message: "No route matches this path."
  },
  MethodNotAllowed: {
    code: "METHOD_NOT_ALLOWED",
    httpStatus: 405,
    grpcStatus: GrpcStatus.UNIMPLEMENTED,
    type: "invalid_request_error",
    message: "This method is not allowed on this route."
  },
  ResourceNotFound: {
    code: "NOT_FOUND",
    httpStatus: 404,
    grpcStatus: GrpcStatus.NOT_FOUND,
    type: "not_found_error",
    message: "The resource was not found."
  },
  ModelNotFound: {
    code: "MODEL_NOT_FOUND",
    httpStatus: 404,
    grpcStatus: GrpcStatus.NOT_FOUND,
    type: "not_found_error",
    message: "The model does not exist or is not routed by this gateway; GET /v1/models lists the available ones."
  },
  ModelNotAllowed: {
    code: "MODEL_NOT_ALLOWED",
    httpStatus: 403,
    grpcStatus: GrpcStatus.PERMISSION_DENIED,
    type: "permission_error",
    message: "The organization may not use this model; GET /v1/models lists the allowed ones."
  },
  UpstreamError: {
    code: "UPSTREAM_ERROR",
    httpStatus: 502,
    grpcStatus: GrpcStatus.UNAVAILABLE,
    type: "server_error",
    message: "The model provider failed to answer. Retry shortly."
  },
  UpstreamTimeout: {
    code: "UPSTREAM_TIMEOUT",
    httpStatus: 504,
    grpcStatus: GrpcStatus.DEADLINE_EXCEEDED,
    type: "server_error",
    message: "The model provider did not answer in time."
  },
  UpstreamRateLimited: {
    code: "UPSTREAM_RATE_LIMITED",
    httpStatus: 429,
    grpcStatus: GrpcStatus.RESOURCE_EXHAUSTED,
    type: "rate_limit_error",
    message: "The model provider is rate limiting requests. Retry after the time in Retry-After."
  },
  UpstreamUnavailable: {
    code: "UPSTREAM_UNAVAILABLE",
    httpStatus: 503,
    grpcStatus: GrpcStatus.UNAVAILABLE,
    type: "service_unavailable_error",
    message: "Every provider for this model is cooling down after repeated failures. Retry shortly."
  },
  // Status and message are the provider's own (see toEnvelope); these are the fallbacks.
  UpstreamRejected: {
    code: "UPSTREAM_REJECTED",
    httpStatus: 400,
    grpcStatus: GrpcStatus.INVALID_ARGUMENT,
    type: "invalid_request_error",
    message: "The model provider refused the request."
  },
  TokenRateLimited: {
    code: "TOKEN_RATE_LIMITED",
    httpStatus: 429,
    grpcStatus: GrpcStatus.RESOURCE_EXHAUSTED,
    type: "rate_limit_error",
    message: "The organization's token rate limit was exceeded. Retry after the time in Retry-After."
  },
  // OpenAI's own type for a spent quota: the SDKs and the clients built on them recognise it.
  BudgetExceeded: {
    code: "BUDGET_EXCEEDED",
    httpStatus: 429,
    grpcStatus: GrpcStatus.RESOURCE_EXHAUSTED,
    type: "insufficient_quota",
    message:
      "The organization's monthly budget cannot cover this request's reservation (its prompt, its images and max_tokens, 4096 when unset, times n); a smaller max_tokens may fit."
  },
  InternalError: {
    code: "INTERNAL_ERROR",
    httpStatus: 500,
    grpcStatus: GrpcStatus.INTERNAL,
    type: "server_error",
    message: "An internal error occurred."
  },
  // Issue 15: operators' sign-in and the admin API (docs/ADMIN_API.md).
  SessionRequired: {
    code: "SESSION_REQUIRED",
    httpStatus: 401,
    grpcStatus: GrpcStatus.UNAUTHENTICATED,
    type: "authentication_error",
    message: "Sign in first: the session is missing, expired or revoked."
  },
  InvalidCredentials: {
    code: "INVALID_CREDENTIALS",
    httpStatus: 401,
    grpcStatus: GrpcStatus.UNAUTHENTICATED,
    type: "authentication_error",
    message: "The e-mail or password is incorrect."
  },
  InvalidMfaCode: {
    code: "INVALID_MFA_CODE",
    httpStatus: 401,
    grpcStatus: GrpcStatus.UNAUTHENTICATED,
    type: "authentication_error",
    message: "The verification code is invalid or expired."
  },
  InvalidRefreshToken: {
    code: "INVALID_REFRESH_TOKEN",
    httpStatus: 401,
    grpcStatus: GrpcStatus.UNAUTHENTICATED,
    type: "authentication_error",
    message: "The refresh token is invalid, used or expired. Sign in again."
  },
  InvalidOrExpiredLink: {
    code: "INVALID_OR_EXPIRED_LINK",
    httpStatus: 400,
    grpcStatus: GrpcStatus.INVALID_ARGUMENT,
    type: "invalid_request_error",
    message: "The link is invalid, already used or expired."
  },
  CsrfFailed: {
    code: "CSRF_FAILED",
    httpStatus: 403,
    grpcStatus: GrpcStatus.PERMISSION_DENIED,
    type: "permission_error",
    message: "The request failed its cross-site request forgery check."
  },
  ActionDenied: {
    code: "ACTION_DENIED",
    httpStatus: 403,
    grpcStatus: GrpcStatus.PERMISSION_DENIED,
    type: "permission_error",
    message: "Your role does not allow this operation."
  },
  OrgRequired: {
    code: "ORG_REQUIRED",
    httpStatus: 400,
    grpcStatus: GrpcStatus.INVALID_ARGUMENT,
    type: "invalid_request_error",
    message: "This route is org-scoped: the X-IBEX-Org-ID header is required."
  },
  InvalidOrgId: {
    code: "INVALID_ORG_ID",
    httpStatus: 400,
    grpcStatus: GrpcStatus.INVALID_ARGUMENT,
    type: "invalid_request_error",
    message: "The X-IBEX-Org-ID header must be a UUID."
  },
  TooManyAttempts: {
    code: "TOO_MANY_ATTEMPTS",
    httpStatus: 429,
    grpcStatus: GrpcStatus.RESOURCE_EXHAUSTED,
    type: "rate_limit_error",
    message: "Too many attempts. Retry after the time in Retry-After."
  },
  Conflict: {
    code: "CONFLICT",
    httpStatus: 409,
    grpcStatus: GrpcStatus.ALREADY_EXISTS,
    type: "invalid_request_error",
    message: "The request conflicts with the current state of the resource."
  }
}

export const catalogueEntry = (error: DomainError): CatalogueEntry => ErrorCatalogue[error._tag]
