import {
  AuditLog,
  childExpiry,
  displayPrefix,
  FieldError,
  formatPat,
  InsufficientPermissions,
  type OrgId,
  Permissions,
  type Principal,
  ResourceNotFound,
  SECRET_BYTES,
  SecretHasher,
  SecureRandom,
  type StoreUnavailable,
  secretFromBytes,
  type TokenId,
  type TokenInfo,
  type TokenPage,
  TokenStore,
  type UserId,
  uuidFromBytes,
  ValidationFailed,
  validateName
} from "@ibex/domain"
import { Clock, Effect, Either, Option, type Redacted } from "effect"
import { TokenValidator } from "./TokenValidator.js"

export interface CreateTokenInput {
  readonly name: string
  readonly permissions: Permissions.Permissions
  readonly expiresAt: Date | null
}

export interface CreatedToken {
  /** The plaintext PAT: returned once, here, and never again. */
  readonly token: Redacted.Redacted<string>
  readonly info: TokenInfo
}

export interface IssueTokenInput {
  readonly orgId: OrgId
  readonly name: string
  readonly permissions: Permissions.Permissions
  readonly expiresAt: Date | null
  readonly createdBy: UserId | null
  /** The token minting this one (CreateToken); absent or null for a root token. */
  readonly parentTokenId?: TokenId | null | undefined
}

/**
 * The one code path that mints a token: random id and secret, Argon2id hash, insert. No
 * authorization here: callers are createToken (after its checks), the seed and the bootstrap
 * helper, so every token in the system is made the same way.
 */
export const issueToken = (
  input: IssueTokenInput
): Effect.Effect<CreatedToken, StoreUnavailable, TokenStore | SecretHasher | SecureRandom> =>
  Effect.gen(function* () {
    const random = yield* SecureRandom
    const id = uuidFromBytes(yield* random.bytes(16), 4) as TokenId
    const secret = secretFromBytes(yield* random.bytes(SECRET_BYTES))
    const hasher = yield* SecretHasher
    const secretHash = yield* hasher.hash(secret)
    const store = yield* TokenStore
    const info = yield* store.insert({
      id,
      orgId: input.orgId,
      name: input.name,
      displayPrefix: displayPrefix(id),
      secretHash,
      permissions: input.permissions,
      createdBy: input.createdBy,
      expiresAt: input.expiresAt,
      parentTokenId: input.parentTokenId ?? null
    })
    return { token: formatPat(id, secret), info }
  }).pipe(Effect.withSpan("TokenService.issueToken"))

const require = (caller: Principal, name: Permissions.PermissionName, operation: string) =>
  Permissions.has(caller.permissions, name)
    ? Effect.void
    : Effect.gen(function* () {
        const audit = yield* AuditLog
        yield* audit.record({
          type: "management_refused",
          orgId: caller.orgId,
          actorTokenId: caller.tokenId,
          operation,
          reason: `missing ${name}`
        })
        return yield* new InsufficientPermissions({ required: [name] })
      })

/**
 * Mints a token in the caller's own org, as a child of the calling token. A caller can never
 * grant permissions it does not hold, nor a life longer than its own: the child's expiry is capped
 * at the caller's (a later or no expiry asked for becomes the caller's; the answer shows the
 * effective one), and revoking the caller revokes the child.
 */
export const createToken = (
  caller: Principal,
  input: CreateTokenInput
): Effect.Effect<
  CreatedToken,
  InsufficientPermissions | ValidationFailed | StoreUnavailable,
  TokenStore | SecretHasher | SecureRandom | AuditLog
> =>
  Effect.gen(function* () {
    yield* require(caller, "tokens:create", "CreateToken")
    const now = yield* Clock.currentTimeMillis
    const problems: Array<FieldError> = []
    // The domain's name rule: 1 to 128 characters, no control characters (issue 14, item 9).
    const checked = validateName(input.name, 128)
    const name = Either.getOrElse(checked, () => "")
    if (Either.isLeft(checked)) problems.push(new FieldError({ field: "name", message: checked.left }))
    if (input.expiresAt !== null && input.expiresAt.getTime() <= now)
      problems.push(new FieldError({ field: "expires_at", message: "must be in the future" }))
    if (problems.length > 0) return yield* new ValidationFailed({ fieldErrors: problems })
    if (!Permissions.isSubset(input.permissions, caller.permissions)) {
      const audit = yield* AuditLog
      yield* audit.record({
        type: "management_refused",
        orgId: caller.orgId,
        actorTokenId: caller.tokenId,
        operation: "CreateToken",
        reason: "permission escalation"
      })
      return yield* new InsufficientPermissions({
        required: Permissions.toNames(Permissions.revoke(input.permissions, caller.permissions))
      })
    }
    const created = yield* issueToken({
      orgId: caller.orgId,
      name,
      permissions: input.permissions,
      expiresAt: childExpiry(input.expiresAt, caller.expiresAt),
      createdBy: null,
      parentTokenId: caller.tokenId
    })
    const audit = yield* AuditLog
    yield* audit.record({
      type: "token_created",
      orgId: created.info.orgId,
      actorTokenId: caller.tokenId,
      tokenId: created.info.id,
      displayPrefix: created.info.displayPrefix,
      permissions: Permissions.toNames(created.info.permissions)
    })
    return created
  }).pipe(Effect.withSpan("TokenService.createToken"))

export const listTokens = (
  caller: Principal,
  page: { readonly limit: number; readonly cursor: string | null }
): Effect.Effect<TokenPage, InsufficientPermissions | StoreUnavailable, TokenStore | AuditLog> =>
  Effect.gen(function* () {
    yield* require(caller, "tokens:list", "ListTokens")
    const store = yield* TokenStore
    const limit = Math.min(Math.max(1, Math.floor(page.limit || 50)), 200)
    return yield* store.list(caller.orgId, { limit, cursor: page.cursor })
  }).pipe(Effect.withSpan("TokenService.listTokens"))

/**
 * Revokes a token of the caller's org and every token minted under it; another org's token
 * answers exactly like a missing one. This instance refuses all of them at once; the others hear
 * each one through the feed.
 */
export const revokeToken = (
  caller: Principal,
  tokenId: TokenId
): Effect.Effect<
  TokenInfo,
  InsufficientPermissions | ResourceNotFound | StoreUnavailable,
  TokenStore | AuditLog | TokenValidator
> =>
  Effect.gen(function* () {
    yield* require(caller, "tokens:revoke", "RevokeToken")
    const store = yield* TokenStore
    const revoked = yield* store.revoke(caller.orgId, tokenId)
    if (Option.isNone(revoked)) return yield* new ResourceNotFound({ resource: "token" })
    const { info, descendants } = revoked.value
    const validator = yield* TokenValidator
    const audit = yield* AuditLog
    for (const id of [tokenId, ...descendants]) {
      yield* validator.evict(id)
      yield* audit.record({
        type: "token_revoked",
        orgId: caller.orgId,
        actorTokenId: caller.tokenId,
        tokenId: id,
        displayPrefix: id === tokenId ? info.displayPrefix : displayPrefix(id)
      })
    }
    return info
  }).pipe(Effect.withSpan("TokenService.revokeToken"))
