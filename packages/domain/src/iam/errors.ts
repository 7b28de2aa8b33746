import { Schema } from "effect"

/** Issue 15's errors: sign-in, sessions, RBAC and the admin API. Their wire codes are in ErrorCatalogue. */

/** No session, an invalid or expired access token, a revoked session, a disabled operator. */
export class SessionRequired extends Schema.TaggedError<SessionRequired>()("SessionRequired", {}) {}
/** Unknown e-mail, wrong password, disabled operator: one answer (no enumeration). */
export class InvalidCredentials extends Schema.TaggedError<InvalidCredentials>()("InvalidCredentials", {}) {}
export class InvalidMfaCode extends Schema.TaggedError<InvalidMfaCode>()("InvalidMfaCode", {}) {}
/** Unknown, spent, expired or revoked refresh token; `reused` is internal (the family was revoked). */
export class InvalidRefreshToken extends Schema.TaggedError<InvalidRefreshToken>()("InvalidRefreshToken", {
  reused: Schema.Boolean
}) {}
/** A reset token or invitation that is unknown, used or expired. */
export class InvalidOrExpiredLink extends Schema.TaggedError<InvalidOrExpiredLink>()("InvalidOrExpiredLink", {}) {}
export class CsrfFailed extends Schema.TaggedError<CsrfFailed>()("CsrfFailed", {}) {}
/** The role lacks the right (RBAC); `reason` is internal (audit, logs). */
export class ActionDenied extends Schema.TaggedError<ActionDenied>()("ActionDenied", {
  action: Schema.String,
  reason: Schema.String
}) {}
export class OrgRequired extends Schema.TaggedError<OrgRequired>()("OrgRequired", {}) {}
export class InvalidOrgId extends Schema.TaggedError<InvalidOrgId>()("InvalidOrgId", {}) {}
export class TooManyAttempts extends Schema.TaggedError<TooManyAttempts>()("TooManyAttempts", {
  retryAfterMs: Schema.Number
}) {}
export class Conflict extends Schema.TaggedError<Conflict>()("Conflict", { what: Schema.String }) {}

export type IamError =
  | SessionRequired
  | InvalidCredentials
  | InvalidMfaCode
  | InvalidRefreshToken
  | InvalidOrExpiredLink
  | CsrfFailed
  | ActionDenied
  | OrgRequired
  | InvalidOrgId
  | TooManyAttempts
  | Conflict
