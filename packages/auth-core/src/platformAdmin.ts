import {
  Agent,
  type AgentId,
  type AgentStatus,
  AgentStore,
  AuditLog,
  actorLabel,
  checkName,
  FieldError,
  formatAdminCredential,
  InvalidToken,
  isCanonicalUuid,
  Org,
  type OrgId,
  type OrgStatus,
  OrgStore,
  Permissions,
  type PlatformActor,
  type PlatformAdmin,
  type PlatformAdminId,
  PlatformAdminStore,
  parseAdminCredential,
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
  UnitOfWork,
  uuidFromBytes,
  ValidationFailed
} from "@ibex/domain"
import { Clock, Effect, Option, Redacted } from "effect"
import { type CreatedToken, issueToken } from "./manageTokens.js"

/**
 * Platform administration: onboarding an org (the org, its first admin token, optionally its
 * first agent), the org lifecycle (list, show, rename, rate limit, disable, enable) and acting
 * for an org (its tokens and agents). Callers are the auth service's PlatformAdminService (after
 * `authenticatePlatformAdmin`) and the CLI working directly on the database as its owner. Every
 * operation is audited with the acting admin (`platform_action`).
 */

export const MAX_ORG_NAME = 200
export const MAX_TOKEN_NAME = 128
export const MAX_AGENT_NAME = 200
export const MAX_ADMIN_NAME = 128
/** The largest rate limit the database column (integer) holds. */
export const MAX_RATE_LIMIT = 2_147_483_647

const invalid = (field: string, message: string) =>
  new ValidationFailed({ fieldErrors: [new FieldError({ field, message })] })

const checkRateLimit = (perMinute: number | null) =>
  perMinute === null || (Number.isInteger(perMinute) && perMinute >= 1 && perMinute <= MAX_RATE_LIMIT)
    ? Effect.succeed(perMinute)
    : Effect.fail(invalid("rate_limit_per_minute", `must be an integer from 1 to ${MAX_RATE_LIMIT}, or cleared`))

const checkExpiry = (expiresAt: Date | null) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    expiresAt === null || (!Number.isNaN(expiresAt.getTime()) && expiresAt.getTime() > now)
      ? Effect.succeed(expiresAt)
      : Effect.fail(invalid("expires_at", "must be in the future"))
  )

const newId = Effect.flatMap(SecureRandom, (random) => Effect.map(random.bytes(16), (b) => uuidFromBytes(b, 4)))

const audit = (actor: PlatformActor, operation: string, orgId: OrgId | null, targetId: string | null = null) =>
  Effect.flatMap(AuditLog, (log) =>
    log.record({ type: "platform_action", actor: actorLabel(actor), operation, orgId, targetId })
  )

const orgNotFound = () => new ResourceNotFound({ resource: "org" })

// ---------------------------------------------------------------------------------------------
// Credentials

/**
 * Authenticates a platform-admin credential (`ibex_padm_…`). A PAT, an unknown id, a wrong
 * secret and a revoked credential all fail with InvalidToken (one answer at the edge). No cache:
 * admin calls are rare, so each one costs one Argon2id verification and a revocation takes
 * effect on the next call. Unknown ids and malformed input fail before any hashing.
 */
export const authenticatePlatformAdmin = (
  credential: Redacted.Redacted<string>
): Effect.Effect<PlatformActor, InvalidToken | StoreUnavailable, PlatformAdminStore | SecretHasher> =>
  Effect.gen(function* () {
    const parsed = parseAdminCredential(Redacted.value(credential))
    if (parsed._tag === "Left") return yield* new InvalidToken({ reason: "malformed" })
    const store = yield* PlatformAdminStore
    const found = yield* store.findCredential(parsed.right.adminId)
    if (Option.isNone(found)) return yield* new InvalidToken({ reason: "unknown" })
    const hasher = yield* SecretHasher
    if (!(yield* hasher.verify(found.value.secretHash, parsed.right.secret)))
      return yield* new InvalidToken({ reason: "wrong_secret" })
    // Any revocation time means revoked, one in the future included (as for tokens).
    if (found.value.admin.revokedAt !== null) return yield* new InvalidToken({ reason: "revoked" })
    return { kind: "platform_admin", adminId: found.value.admin.id } as const
  }).pipe(Effect.withSpan("PlatformAdmin.authenticate"))

export interface IssuedPlatformAdmin {
  /** The plaintext credential: returned once, here, and never again. */
  readonly credential: Redacted.Redacted<string>
  readonly admin: PlatformAdmin
}

/** Mints a platform-admin credential (the database owner's operation: `ibex admin credential create`). */
export const issuePlatformAdmin = (
  actor: PlatformActor,
  rawName: string
): Effect.Effect<
  IssuedPlatformAdmin,
  ValidationFailed | StoreUnavailable,
  PlatformAdminStore | SecretHasher | SecureRandom | AuditLog
> =>
  Effect.gen(function* () {
    const name = yield* checkName("name", rawName, MAX_ADMIN_NAME)
    const id = (yield* newId) as PlatformAdminId
    const random = yield* SecureRandom
    const secret = secretFromBytes(yield* random.bytes(SECRET_BYTES))
    const hasher = yield* SecretHasher
    const secretHash = yield* hasher.hash(secret)
    const store = yield* PlatformAdminStore
    const admin = yield* store.insert({ id, name, secretHash })
    yield* audit(actor, "CreatePlatformAdmin", null, id)
    return { credential: formatAdminCredential(id, secret), admin }
  }).pipe(Effect.withSpan("PlatformAdmin.issue"))

export const revokePlatformAdmin = (actor: PlatformActor, id: PlatformAdminId) =>
  Effect.gen(function* () {
    const store = yield* PlatformAdminStore
    const now = new Date(yield* Clock.currentTimeMillis)
    const revoked = yield* store.revoke(id, now)
    if (Option.isNone(revoked)) return yield* new ResourceNotFound({ resource: "platform_admin" })
    yield* audit(actor, "RevokePlatformAdmin", null, id)
    return revoked.value
  })

// ---------------------------------------------------------------------------------------------
// Orgs

/** An org by id (a UUID) or by its exact name. */
export const resolveOrg = (ref: string): Effect.Effect<Org, ResourceNotFound | StoreUnavailable, OrgStore> =>
  Effect.gen(function* () {
    const orgs = yield* OrgStore
    const text = ref.trim()
    const lower = text.toLowerCase()
    const found = isCanonicalUuid(lower) ? yield* orgs.find(lower as OrgId) : yield* orgs.findByName(text)
    return yield* Option.match(found, { onNone: () => Effect.fail(orgNotFound()), onSome: Effect.succeed })
  })

export interface OnboardOrgInput {
  readonly name: string
  readonly rateLimitPerMinute: number | null
  /** The first admin token's label (default "bootstrap-admin"). */
  readonly tokenName?: string | undefined
  readonly tokenExpiresAt: Date | null
  /** Create the org's first agent too. */
  readonly agentName?: string | null | undefined
}

export interface OnboardedOrg {
  readonly org: Org
  /** The first admin token: every permission, printed once. */
  readonly token: CreatedToken
  readonly agent: Agent | null
}

/**
 * Creates an org with its first admin token (every permission, so it can mint the org's other
 * tokens) and, if asked, its first agent. The name must be free. Where the stores provide a
 * UnitOfWork (Postgres, PGlite) it is all or nothing: an org is never left without its token.
 */
export const onboardOrg = (
  actor: PlatformActor,
  input: OnboardOrgInput
): Effect.Effect<
  OnboardedOrg,
  ValidationFailed | StoreUnavailable,
  OrgStore | AgentStore | TokenStore | SecretHasher | SecureRandom | AuditLog
> =>
  Effect.gen(function* () {
    const name = yield* checkName("name", input.name, MAX_ORG_NAME)
    const rateLimit = yield* checkRateLimit(input.rateLimitPerMinute)
    const tokenName = yield* checkName("token_name", input.tokenName ?? "bootstrap-admin", MAX_TOKEN_NAME)
    const agentName =
      input.agentName === null || input.agentName === undefined
        ? null
        : yield* checkName("agent_name", input.agentName, MAX_AGENT_NAME)
    const expiresAt = yield* checkExpiry(input.tokenExpiresAt)
    const orgs = yield* OrgStore
    if (Option.isSome(yield* orgs.findByName(name)))
      return yield* invalid("name", "an org with this name already exists")
    const now = new Date(yield* Clock.currentTimeMillis)
    const steps = Effect.gen(function* () {
      const org = yield* orgs.insert(
        new Org({ id: (yield* newId) as OrgId, name, status: "active", rateLimitPerMinute: rateLimit, createdAt: now })
      )
      const token = yield* issueToken({
        orgId: org.id,
        name: tokenName,
        permissions: Permissions.all,
        expiresAt,
        createdBy: null
      })
      const agent = agentName === null ? null : yield* insertAgent(org.id, agentName)
      return { org, token, agent }
    })
    const unit = yield* Effect.serviceOption(UnitOfWork)
    const result = Option.isSome(unit) ? yield* unit.value.atomically(steps) : yield* steps
    // Audited once the whole onboarding has committed.
    yield* audit(actor, "CreateOrg", result.org.id)
    yield* audit(actor, "CreateOrgToken", result.org.id, result.token.info.id)
    if (result.agent !== null) yield* audit(actor, "CreateOrgAgent", result.org.id, result.agent.id)
    return result
  }).pipe(Effect.withSpan("PlatformAdmin.onboardOrg"))

export const listOrgs = (actor: PlatformActor) =>
  Effect.flatMap(OrgStore, (orgs) => orgs.list).pipe(Effect.tap(() => audit(actor, "ListOrgs", null)))

export const getOrg = (actor: PlatformActor, ref: string) =>
  resolveOrg(ref).pipe(Effect.tap((org) => audit(actor, "GetOrg", org.id)))

const updated = (result: Option.Option<Org>) =>
  Option.match(result, { onNone: () => Effect.fail(orgNotFound()), onSome: Effect.succeed })

export const renameOrg = (
  actor: PlatformActor,
  orgId: OrgId,
  rawName: string
): Effect.Effect<Org, ValidationFailed | ResourceNotFound | StoreUnavailable, OrgStore | AuditLog> =>
  Effect.gen(function* () {
    const name = yield* checkName("name", rawName, MAX_ORG_NAME)
    const orgs = yield* OrgStore
    const holder = yield* orgs.findByName(name)
    if (Option.isSome(holder) && holder.value.id !== orgId)
      return yield* invalid("name", "an org with this name already exists")
    const org = yield* updated(yield* orgs.rename(orgId, name))
    yield* audit(actor, "RenameOrg", orgId)
    return org
  })

export const setOrgRateLimit = (
  actor: PlatformActor,
  orgId: OrgId,
  perMinute: number | null
): Effect.Effect<Org, ValidationFailed | ResourceNotFound | StoreUnavailable, OrgStore | AuditLog> =>
  Effect.gen(function* () {
    const limit = yield* checkRateLimit(perMinute)
    const orgs = yield* OrgStore
    const org = yield* updated(yield* orgs.setRateLimit(orgId, limit))
    yield* audit(actor, limit === null ? "ClearOrgRateLimit" : "SetOrgRateLimit", orgId)
    return org
  })

/** Disable: every token of the org is refused within the revocation SLA (pushed); enable restores them. Data is kept. */
export const setOrgStatus = (
  actor: PlatformActor,
  orgId: OrgId,
  status: OrgStatus
): Effect.Effect<Org, ResourceNotFound | StoreUnavailable, OrgStore | AuditLog> =>
  Effect.gen(function* () {
    const orgs = yield* OrgStore
    const org = yield* updated(yield* orgs.setStatus(orgId, status))
    yield* audit(actor, status === "disabled" ? "DisableOrg" : "EnableOrg", orgId)
    return org
  })

// ---------------------------------------------------------------------------------------------
// Acting for an org: tokens and agents

const requireOrg = (orgId: OrgId) => Effect.flatMap(OrgStore, (orgs) => orgs.find(orgId)).pipe(Effect.flatMap(updated))

export interface OrgTokenInput {
  readonly name: string
  readonly permissions: Permissions.Permissions
  readonly expiresAt: Date | null
}

/** A token in a named org; a platform admin may grant any permission. */
export const createOrgToken = (
  actor: PlatformActor,
  orgId: OrgId,
  input: OrgTokenInput
): Effect.Effect<
  CreatedToken,
  ValidationFailed | ResourceNotFound | StoreUnavailable,
  OrgStore | TokenStore | SecretHasher | SecureRandom | AuditLog
> =>
  Effect.gen(function* () {
    const name = yield* checkName("name", input.name, MAX_TOKEN_NAME)
    const expiresAt = yield* checkExpiry(input.expiresAt)
    // A bit without a name yet would silently grant whatever it comes to mean later.
    if (!Permissions.isSubset(input.permissions, Permissions.all))
      return yield* invalid("permissions", "sets a permission bit that names no permission")
    yield* requireOrg(orgId)
    const created = yield* issueToken({ orgId, name, permissions: input.permissions, expiresAt, createdBy: null })
    yield* audit(actor, "CreateOrgToken", orgId, created.info.id)
    return created
  })

export const listOrgTokens = (
  actor: PlatformActor,
  orgId: OrgId,
  page: { readonly limit: number; readonly cursor: string | null }
): Effect.Effect<TokenPage, ResourceNotFound | StoreUnavailable, OrgStore | TokenStore | AuditLog> =>
  Effect.gen(function* () {
    yield* requireOrg(orgId)
    const store = yield* TokenStore
    const limit = Math.min(Math.max(1, Math.floor(page.limit || 50)), 200)
    const result = yield* store.list(orgId, { limit, cursor: page.cursor })
    yield* audit(actor, "ListOrgTokens", orgId)
    return result
  })

/** Revokes a token of the named org and every token minted under it; a token of another org answers exactly like a missing one. */
export const revokeOrgToken = (
  actor: PlatformActor,
  orgId: OrgId,
  tokenId: TokenId
): Effect.Effect<TokenInfo, ResourceNotFound | StoreUnavailable, OrgStore | TokenStore | AuditLog> =>
  Effect.gen(function* () {
    yield* requireOrg(orgId)
    const store = yield* TokenStore
    const revoked = yield* store.revoke(orgId, tokenId)
    if (Option.isNone(revoked)) return yield* new ResourceNotFound({ resource: "token" })
    yield* audit(actor, "RevokeOrgToken", orgId, tokenId)
    // Tokens minted under it went with it (the store revoked and announced each).
    for (const id of revoked.value.descendants) yield* audit(actor, "RevokeOrgToken:descendant", orgId, id)
    return revoked.value.info
  })

const insertAgent = (orgId: OrgId, name: string) =>
  Effect.gen(function* () {
    const agents = yield* AgentStore
    return yield* agents.insert(
      new Agent({
        id: (yield* newId) as AgentId,
        orgId,
        name,
        status: "active",
        createdAt: new Date(yield* Clock.currentTimeMillis)
      })
    )
  })

export const createOrgAgent = (
  actor: PlatformActor,
  orgId: OrgId,
  rawName: string
): Effect.Effect<
  Agent,
  ValidationFailed | ResourceNotFound | StoreUnavailable,
  OrgStore | AgentStore | SecureRandom | AuditLog
> =>
  Effect.gen(function* () {
    const name = yield* checkName("name", rawName, MAX_AGENT_NAME)
    yield* requireOrg(orgId)
    const agent = yield* insertAgent(orgId, name)
    yield* audit(actor, "CreateOrgAgent", orgId, agent.id)
    return agent
  })

export const listOrgAgents = (actor: PlatformActor, orgId: OrgId) =>
  Effect.gen(function* () {
    yield* requireOrg(orgId)
    const agents = yield* (yield* AgentStore).list(orgId)
    yield* audit(actor, "ListOrgAgents", orgId)
    return agents
  })

/** Pausing, suspending or archiving an agent is pushed to every cache, as a revocation is. */
export const setOrgAgentStatus = (actor: PlatformActor, orgId: OrgId, agentId: AgentId, status: AgentStatus) =>
  Effect.gen(function* () {
    yield* requireOrg(orgId)
    const result = yield* (yield* AgentStore).setStatus(orgId, agentId, status)
    if (Option.isNone(result)) return yield* new ResourceNotFound({ resource: "agent" })
    yield* audit(actor, `SetOrgAgentStatus:${status}`, orgId, agentId)
    return result.value
  })
