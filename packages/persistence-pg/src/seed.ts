import { type CreatedToken, issueToken } from "@ibex/auth-core"
import {
  Agent,
  type AgentId,
  AgentStore,
  Org,
  type OrgId,
  OrgStore,
  Permissions,
  type SecretHasher,
  SecureRandom,
  type StoreUnavailable,
  type TokenStore,
  User,
  type UserId,
  UserStore,
  uuidFromBytes
} from "@ibex/domain"
import { Clock, Effect, Option } from "effect"
import { storeOperation } from "./errors.js"
import { PlatformPool, transaction, withOrg } from "./PgClientLive.js"

/**
 * The development seed: one org, one user, one active agent and one full-permission PAT,
 * minted by the domain's `issueToken` (the same path as every token; only its Argon2id hash
 * is stored). Idempotent: the org's name is the key, and a second run changes nothing unless
 * asked for a new token. The whole seed is one transaction under an advisory lock, so two
 * concurrent runs make one org and a failed run leaves nothing half-made. Making an org is a
 * platform operation: the transaction runs on the platform pool, as ibex_platform (migration 0011).
 */

export interface SeedOptions {
  readonly orgName?: string
  readonly userEmail?: string
  readonly agentName?: string
  readonly tokenName?: string
  /** Mint another full-permission PAT in the seeded org (seeding it first if needed). */
  readonly newToken?: boolean
}

export type SeedResult =
  | {
      readonly status: "seeded"
      readonly orgId: OrgId
      readonly userId: UserId
      readonly agentId: AgentId
      readonly token: CreatedToken
    }
  | {
      readonly status: "already-seeded" | "new-token"
      readonly orgId: OrgId
      readonly userId: UserId | null
      readonly agentId: AgentId | null
      readonly token: CreatedToken | null
    }

const SEED_LOCK_KEY = 0x1bec_5eed

const newId = <A extends string>() =>
  Effect.flatMap(SecureRandom, (random) => Effect.map(random.bytes(16), (b) => uuidFromBytes(b, 4) as A))

export const seedDev = (
  options: SeedOptions = {}
): Effect.Effect<
  SeedResult,
  StoreUnavailable,
  OrgStore | UserStore | AgentStore | TokenStore | SecretHasher | SecureRandom | PlatformPool
> => {
  const orgName = options.orgName ?? "dev"
  const userEmail = options.userEmail ?? "dev@ibex.local"
  const agentName = options.agentName ?? "dev-agent"
  return Effect.gen(function* () {
    const { sql, provide } = yield* (yield* PlatformPool).database
    const orgs = yield* OrgStore
    const now = new Date(yield* Clock.currentTimeMillis)
    const mint = (orgId: OrgId, createdBy: UserId | null, name: string) =>
      issueToken({ orgId, name, permissions: Permissions.all, expiresAt: null, createdBy })

    const run = Effect.gen(function* () {
      yield* sql`SELECT pg_advisory_xact_lock(${SEED_LOCK_KEY})`
      const existing = yield* orgs.findByName(orgName)
      if (Option.isSome(existing)) {
        const orgId = existing.value.id
        const user = yield* withOrg(
          orgId,
          sql<{ id: string }>`SELECT id FROM ibex_core.users WHERE lower(email) = lower(${userEmail})`
        )
        const agents = yield* AgentStore
        const agent = (yield* agents.list(orgId)).find((a) => a.name === agentName)
        const userId = (user[0]?.id ?? null) as UserId | null
        const token = options.newToken
          ? yield* mint(orgId, userId, options.tokenName ?? `dev-seed-${now.toISOString()}`)
          : null
        return {
          status: options.newToken ? "new-token" : "already-seeded",
          orgId,
          userId,
          agentId: agent?.id ?? null,
          token
        } as const
      }
      const org = yield* orgs.insert(
        new Org({
          id: yield* newId<OrgId>(),
          name: orgName,
          status: "active",
          rateLimitPerMinute: null,
          createdAt: now
        })
      )
      const users = yield* UserStore
      const user = yield* users.insert(
        new User({ id: yield* newId<UserId>(), orgId: org.id, email: userEmail, displayName: "Dev", createdAt: now })
      )
      const agents = yield* AgentStore
      const agent = yield* agents.insert(
        new Agent({ id: yield* newId<AgentId>(), orgId: org.id, name: agentName, status: "active", createdAt: now })
      )
      const token = yield* mint(org.id, user.id, options.tokenName ?? "dev-seed")
      return { status: "seeded", orgId: org.id, userId: user.id, agentId: agent.id, token } as const
    })
    return yield* provide(transaction(run))
  }).pipe(storeOperation("Seed.dev"))
}
