import { Effect, Option, Schema } from "effect"
import { InvalidToken } from "./errors.js"
import { OrgId, TokenId, UserId } from "./ids.js"
import { hasControlCharacters, NAME_CONTROL_CHARACTERS_MESSAGE } from "./Name.js"
import type { OrgStatus } from "./Org.js"
import { Permissions } from "./Permissions.js"

/** A token as lists show it: never its hash, never its secret. */
export class TokenInfo extends Schema.Class<TokenInfo>("TokenInfo")({
  id: TokenId,
  orgId: OrgId,
  name: Schema.String,
  displayPrefix: Schema.String,
  permissions: Permissions,
  createdBy: Schema.NullOr(UserId),
  createdAt: Schema.DateFromSelf,
  expiresAt: Schema.NullOr(Schema.DateFromSelf),
  revokedAt: Schema.NullOr(Schema.DateFromSelf),
  lastUsedAt: Schema.NullOr(Schema.DateFromSelf)
}) {}

/** What the pre-tenant lookup returns for validation: the token, its hash, and its org's state. */
export interface TokenCredential {
  readonly info: TokenInfo
  /** Argon2id PHC string. Never logged, never returned by any API. */
  readonly secretHash: string
  readonly orgStatus: OrgStatus
  readonly orgRateLimitPerMinute: number | null
  /** The org's token limit per minute; null: none. */
  readonly orgTokensPerMinute: number | null
  /** The org's spend limit per calendar month in micro-USD; null: none. */
  readonly orgMonthlyBudgetMicroUsd: number | null
}

/** What a new token row holds; the store never receives plaintext. */
export interface NewToken {
  readonly id: TokenId
  readonly orgId: OrgId
  readonly name: string
  readonly displayPrefix: string
  readonly secretHash: string
  readonly permissions: Permissions
  readonly createdBy: UserId | null
  readonly expiresAt: Date | null
  /**
   * The token that minted this one (CreateToken), or null for a root (onboarding, the seed, a
   * platform admin). A child never outlives its parent: the stores cap its expiry at the parent's,
   * refuse a parent that is revoked or of another org, and revoke it with its parent.
   */
  readonly parentTokenId: TokenId | null
}

/**
 * A child token's expiry: what it asked for, but never later than its parent's. A parent that
 * expires makes "no expiry" and any later time its own expiry (capped, not refused; the caller
 * sees the effective expiry in the answer).
 */
export const childExpiry = (requested: Date | null, parent: Date | null): Date | null =>
  parent === null ? requested : requested === null || requested.getTime() > parent.getTime() ? parent : requested

/** The identity a validated token stands for. */
export interface Principal {
  readonly orgId: OrgId
  readonly tokenId: TokenId
  readonly permissions: Permissions
  readonly expiresAt: Date | null
  readonly rateLimitPerMinute: number | null
  /** The org's token limit per minute (enforced by the proxy at admission); null: none. */
  readonly tokensPerMinute: number | null
  /** The org's monthly spend limit in micro-USD (enforced by the proxy at admission); null: none. */
  readonly monthlyBudgetMicroUsd: number | null
}

/**
 * Validity rules after the secret matched: revoked, expired (at or past expiry), org disabled.
 * Any revocation time means revoked, one in the future included: the time records when, it never
 * schedules (stores stamp it with their own clock; a future value can only come from a clock ahead
 * of ours, and must not leave the token working until then).
 */
export const checkTokenUsable = (credential: TokenCredential, now: Date): Effect.Effect<Principal, InvalidToken> => {
  const { info } = credential
  if (info.revokedAt !== null) return Effect.fail(new InvalidToken({ reason: "revoked" }))
  if (info.expiresAt !== null && info.expiresAt.getTime() <= now.getTime())
    return Effect.fail(new InvalidToken({ reason: "expired" }))
  if (credential.orgStatus !== "active") return Effect.fail(new InvalidToken({ reason: "org_disabled" }))
  return Effect.succeed({
    orgId: info.orgId,
    tokenId: info.id,
    permissions: info.permissions,
    expiresAt: info.expiresAt,
    rateLimitPerMinute: credential.orgRateLimitPerMinute,
    tokensPerMinute: credential.orgTokensPerMinute,
    monthlyBudgetMicroUsd: credential.orgMonthlyBudgetMicroUsd
  })
}

export const TokenName = Schema.String.pipe(
  Schema.trimmed({ message: () => "must not start or end with spaces" }),
  Schema.minLength(1, { message: () => "must not be empty" }),
  Schema.maxLength(128, { message: () => "must be at most 128 characters" }),
  Schema.filter((s) => !hasControlCharacters(s), { message: () => NAME_CONTROL_CHARACTERS_MESSAGE })
)

export const isExpiredAt = (info: TokenInfo, now: Date): boolean =>
  Option.fromNullable(info.expiresAt).pipe(Option.exists((e) => e.getTime() <= now.getTime()))
