import {
  Agent,
  AgentStore,
  childExpiry,
  Org,
  OrgStore,
  Permissions,
  PlatformAdmin,
  PlatformAdminStore,
  RevocationEvent,
  RevocationFeed,
  type RevokedToken,
  StoreUnavailable,
  type TokenCredential,
  type TokenId,
  TokenInfo,
  TokenStore,
  type UserId,
  UserStore
} from "@ibex/domain"
import { Clock, Effect, Layer, Option, PubSub, Stream } from "effect"
import { MemoryDatabase, MemoryDatabaseLive, type TokenRow } from "./MemoryDatabase.js"
import { OrgLimitsStoreMemory, UsageStoreMemory } from "./UsageMemory.js"

/**
 * In-memory stores. They obey the same tenant rules as Postgres RLS: every tenant read and
 * write is filtered by the org it is given, and another org's row behaves as if it did not
 * exist. The store contract suites in ../contracts hold both adapters to that.
 */

const guard = <A>(db: { failing: boolean }, operation: string, f: () => A): Effect.Effect<A, StoreUnavailable> =>
  Effect.suspend(() => (db.failing ? Effect.fail(new StoreUnavailable({ operation })) : Effect.succeed(f())))

const toInfo = (row: TokenRow): TokenInfo =>
  new TokenInfo({
    id: row.id,
    orgId: row.orgId as TokenInfo["orgId"],
    name: row.name,
    displayPrefix: row.displayPrefix,
    permissions: Permissions.unsafeFromBigInt(row.permissions),
    createdBy: row.createdBy as UserId | null,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    revokedAt: row.revokedAt,
    lastUsedAt: row.lastUsedAt
  })

const encodeCursor = (row: TokenRow) => `${row.createdAt.getTime()}.${row.seq}`
const decodeCursor = (cursor: string | null): { ms: number; seq: number } | null => {
  if (cursor === null) return null
  const m = /^(\d+)\.(\d+)$/.exec(cursor)
  return m ? { ms: Number(m[1]), seq: Number(m[2]) } : { ms: -1, seq: -1 }
}

export const TokenStoreMemory = Layer.effect(
  TokenStore,
  Effect.gen(function* () {
    const db = yield* MemoryDatabase
    const credentialOf = (tokenId: TokenId): TokenCredential | undefined => {
      const row = db.tokens.get(tokenId)
      const org = row === undefined ? undefined : db.orgs.get(row.orgId)
      if (row === undefined || org === undefined) return undefined
      return {
        info: toInfo(row),
        secretHash: row.secretHash,
        orgStatus: org.status,
        orgRateLimitPerMinute: org.rateLimitPerMinute,
        orgTokensPerMinute: db.orgLimits.get(org.id)?.tokensPerMinute ?? null,
        orgMonthlyBudgetMicroUsd: db.orgLimits.get(org.id)?.monthlyBudgetMicroUsd ?? null
      }
    }
    return TokenStore.of({
      findCredential: (tokenId) =>
        guard(db, "TokenStore.findCredential", () => Option.fromNullable(credentialOf(tokenId))),
      findCredentials: (tokenIds) =>
        guard(db, "TokenStore.findCredentials", () =>
          tokenIds.flatMap((id) => {
            const found = credentialOf(id)
            return found === undefined ? [] : [found]
          })
        ),
      insert: (token) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          guard(db, "TokenStore.insert", () => {
            if (!db.orgs.has(token.orgId)) throw new Error("foreign key violation: token for a missing org")
            // A child: its parent must be in its org and not revoked; its expiry is capped at the parent's
            // (Postgres: the tokens_parent_same_org key and the tokens_child_of_parent trigger, migration 0010).
            const parent = token.parentTokenId === null ? undefined : db.tokens.get(token.parentTokenId)
            if (token.parentTokenId !== null && (parent === undefined || parent.orgId !== token.orgId))
              throw new Error("foreign key violation: a child token needs a parent in its org")
            if (parent !== undefined && parent.revokedAt !== null) throw new Error("the parent token is revoked")
            const row: TokenRow = {
              id: token.id,
              orgId: token.orgId,
              name: token.name,
              displayPrefix: token.displayPrefix,
              secretHash: token.secretHash,
              permissions: token.permissions,
              createdBy: token.createdBy,
              createdAt: new Date(now),
              expiresAt: childExpiry(token.expiresAt, parent?.expiresAt ?? null),
              parentTokenId: token.parentTokenId,
              revokedAt: null,
              lastUsedAt: null,
              seq: db.nextSeq++
            }
            db.tokens.set(row.id, row)
            return toInfo(row)
          })
        ),
      list: (orgId, page) =>
        guard(db, "TokenStore.list", () => {
          const after = decodeCursor(page.cursor)
          const rows = [...db.tokens.values()]
            .filter((r) => r.orgId === orgId)
            .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b.seq - a.seq)
            .filter(
              (r) =>
                after === null ||
                r.createdAt.getTime() < after.ms ||
                (r.createdAt.getTime() === after.ms && r.seq < after.seq)
            )
          const pageRows = rows.slice(0, page.limit)
          const last = pageRows[pageRows.length - 1]
          return {
            tokens: pageRows.map(toInfo),
            nextCursor: rows.length > page.limit && last !== undefined ? encodeCursor(last) : null
          }
        }),
      revoke: (orgId, tokenId) =>
        Effect.flatMap(
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            guard(db, "TokenStore.revoke", () => {
              const row = db.tokens.get(tokenId)
              if (row === undefined || row.orgId !== orgId) return Option.none<RevokedToken>()
              // The store's clock, as Postgres uses now(): the first time wins unless it lies ahead.
              const stamp = (r: TokenRow) => {
                if (r.revokedAt === null || r.revokedAt.getTime() > now) r.revokedAt = new Date(now)
              }
              stamp(row)
              // Every token minted under it, level by level (Postgres: the tokens_revoke_descendants trigger).
              const descendants: Array<TokenId> = []
              let level = new Set<string>([row.id])
              while (level.size > 0) {
                const next = new Set<string>()
                for (const r of db.tokens.values())
                  if (r.parentTokenId !== null && level.has(r.parentTokenId) && r.orgId === orgId) {
                    stamp(r)
                    descendants.push(r.id)
                    next.add(r.id)
                  }
                level = next
              }
              return Option.some({ info: toInfo(row), descendants })
            })
          ),
          (result): Effect.Effect<Option.Option<RevokedToken>> =>
            Option.isSome(result)
              ? Effect.as(
                  PubSub.publishAll(
                    db.revocations,
                    [tokenId, ...result.value.descendants].map((id) => RevocationEvent.Revoked({ tokenId: id }))
                  ),
                  result
                )
              : Effect.succeed(result)
        ),
      touchLastUsed: (tokenId, at) =>
        guard(db, "TokenStore.touchLastUsed", () => {
          const row = db.tokens.get(tokenId)
          if (row !== undefined) row.lastUsedAt = at
        })
    })
  })
)

export const AgentStoreMemory = Layer.effect(
  AgentStore,
  Effect.gen(function* () {
    const db = yield* MemoryDatabase
    const inOrg = (orgId: string, agentId: string) => {
      const agent = db.agents.get(agentId)
      return agent !== undefined && agent.orgId === orgId ? agent : undefined
    }
    return AgentStore.of({
      find: (orgId, agentId) => guard(db, "AgentStore.find", () => Option.fromNullable(inOrg(orgId, agentId))),
      insert: (agent) =>
        guard(db, "AgentStore.insert", () => {
          if (!db.orgs.has(agent.orgId)) throw new Error("foreign key violation: agent for a missing org")
          db.agents.set(agent.id, agent)
          return agent
        }),
      list: (orgId) =>
        guard(db, "AgentStore.list", () =>
          [...db.agents.values()]
            .filter((a) => a.orgId === orgId)
            .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())
        ),
      setStatus: (orgId, agentId, status) =>
        Effect.tap(
          guard(db, "AgentStore.setStatus", () => {
            const agent = inOrg(orgId, agentId)
            if (agent === undefined) return Option.none<Agent>()
            const updated = new Agent({ ...agent, status })
            db.agents.set(agentId, updated)
            return Option.some(updated)
          }),
          (result) =>
            Option.isSome(result)
              ? PubSub.publish(db.revocations, RevocationEvent.AgentChanged({ agentId }))
              : Effect.void
        )
    })
  })
)

export const OrgStoreMemory = Layer.effect(
  OrgStore,
  Effect.gen(function* () {
    const db = yield* MemoryDatabase
    return OrgStore.of({
      find: (orgId) => guard(db, "OrgStore.find", () => Option.fromNullable(db.orgs.get(orgId))),
      findByName: (name) =>
        guard(db, "OrgStore.findByName", () => Option.fromNullable([...db.orgs.values()].find((o) => o.name === name))),
      insert: (org) =>
        guard(db, "OrgStore.insert", () => {
          db.orgs.set(org.id, org)
          return org
        }),
      setStatus: (orgId, status) =>
        guard(db, "OrgStore.setStatus", () => {
          const org = db.orgs.get(orgId)
          if (org === undefined) return Option.none()
          const updated = new Org({ ...org, status })
          db.orgs.set(orgId, updated)
          return Option.some(updated)
        }).pipe(
          Effect.tap((changed) =>
            Option.isSome(changed) ? PubSub.publish(db.revocations, RevocationEvent.OrgChanged({ orgId })) : Effect.void
          )
        ),
      list: guard(db, "OrgStore.list", () =>
        [...db.orgs.values()].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id.localeCompare(b.id))
      ),
      rename: (orgId, name) =>
        guard(db, "OrgStore.rename", () => {
          const org = db.orgs.get(orgId)
          if (org === undefined) return Option.none()
          if ([...db.orgs.values()].some((o) => o.name === name && o.id !== orgId))
            throw new Error("unique violation: organizations_name_unique")
          const updated = new Org({ ...org, name })
          db.orgs.set(orgId, updated)
          return Option.some(updated)
        }).pipe(
          Effect.tap((changed) =>
            Option.isSome(changed) ? PubSub.publish(db.revocations, RevocationEvent.OrgChanged({ orgId })) : Effect.void
          )
        ),
      setRateLimit: (orgId, perMinute) =>
        guard(db, "OrgStore.setRateLimit", () => {
          const org = db.orgs.get(orgId)
          if (org === undefined) return Option.none()
          const updated = new Org({ ...org, rateLimitPerMinute: perMinute })
          db.orgs.set(orgId, updated)
          return Option.some(updated)
        }).pipe(
          Effect.tap((changed) =>
            Option.isSome(changed) ? PubSub.publish(db.revocations, RevocationEvent.OrgChanged({ orgId })) : Effect.void
          )
        )
    })
  })
)

export const UserStoreMemory = Layer.effect(
  UserStore,
  Effect.gen(function* () {
    const db = yield* MemoryDatabase
    return UserStore.of({
      find: (orgId, userId) =>
        guard(db, "UserStore.find", () => {
          const user = db.users.get(userId)
          return Option.fromNullable(user !== undefined && user.orgId === orgId ? user : undefined)
        }),
      insert: (user) =>
        guard(db, "UserStore.insert", () => {
          if (!db.orgs.has(user.orgId)) throw new Error("foreign key violation: user for a missing org")
          db.users.set(user.id, user)
          return user
        })
    })
  })
)

/** Platform-admin credentials in memory (no tenant: the table is the database owner's). */
export const PlatformAdminStoreMemory = Layer.effect(
  PlatformAdminStore,
  Effect.gen(function* () {
    const db = yield* MemoryDatabase
    return PlatformAdminStore.of({
      findCredential: (id) =>
        guard(db, "PlatformAdminStore.findCredential", () => Option.fromNullable(db.platformAdmins.get(id))),
      insert: (admin) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          guard(db, "PlatformAdminStore.insert", () => {
            const row = new PlatformAdmin({ id: admin.id, name: admin.name, createdAt: new Date(now), revokedAt: null })
            db.platformAdmins.set(admin.id, { admin: row, secretHash: admin.secretHash })
            return row
          })
        ),
      list: guard(db, "PlatformAdminStore.list", () => [...db.platformAdmins.values()].map((c) => c.admin)),
      revoke: (id, at) =>
        guard(db, "PlatformAdminStore.revoke", () => {
          const found = db.platformAdmins.get(id)
          if (found === undefined) return Option.none()
          const admin = new PlatformAdmin({ ...found.admin, revokedAt: found.admin.revokedAt ?? at })
          db.platformAdmins.set(id, { ...found, admin })
          return Option.some(admin)
        })
    })
  })
)

/** In-process revocation notices: always connected, every revoke in this database is announced. */
export const RevocationFeedMemory = Layer.effect(
  RevocationFeed,
  Effect.gen(function* () {
    const db = yield* MemoryDatabase
    return RevocationFeed.of({
      // Subscribe before announcing Connected, so no revocation can fall between the two.
      subscribe: Stream.unwrapScoped(
        Effect.map(PubSub.subscribe(db.revocations), (queue) =>
          Stream.concat(Stream.make(RevocationEvent.Connected()), Stream.fromQueue(queue))
        )
      )
    })
  })
)

/** Every store over one fresh in-memory database, plus the database itself for fault injection. */
export const StoresMemory = Layer.mergeAll(
  TokenStoreMemory,
  AgentStoreMemory,
  OrgStoreMemory,
  UserStoreMemory,
  PlatformAdminStoreMemory,
  RevocationFeedMemory,
  UsageStoreMemory,
  OrgLimitsStoreMemory
).pipe(Layer.provideMerge(MemoryDatabaseLive))
