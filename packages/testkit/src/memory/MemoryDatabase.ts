import type { Agent, Org, OrgLimits, PlatformAdminCredential, TokenId, UsageRecord, User } from "@ibex/domain"
import { RevocationEvent } from "@ibex/domain"
import { Context, Effect, Layer, PubSub } from "effect"

export interface TokenRow {
  readonly id: TokenId
  readonly orgId: string
  readonly name: string
  readonly displayPrefix: string
  readonly secretHash: string
  readonly permissions: bigint
  readonly createdBy: string | null
  readonly createdAt: Date
  readonly expiresAt: Date | null
  /** The token that minted this one (null for a root). */
  readonly parentTokenId: TokenId | null
  revokedAt: Date | null
  lastUsedAt: Date | null
  /** Insertion order breaks createdAt ties, like a serial column would. */
  readonly seq: number
}

/**
 * The shared state behind every in-memory store: one "database" per layer build, so a test
 * gets fresh tables by building a fresh layer. `failing` simulates the database being down.
 */
export interface MemoryDatabaseShape {
  readonly orgs: Map<string, Org>
  readonly users: Map<string, User>
  readonly agents: Map<string, Agent>
  readonly tokens: Map<string, TokenRow>
  readonly platformAdmins: Map<string, PlatformAdminCredential>
  /** Usage records by `usageKey(orgId, requestId)`: the idempotency key, per org. */
  readonly usage: Map<string, UsageRecord>
  /** Orgs' metering limits by org id (absent: no limits set). */
  readonly orgLimits: Map<string, OrgLimits>
  readonly revocations: PubSub.PubSub<RevocationEvent>
  nextSeq: number
  failing: boolean
}

export class MemoryDatabase extends Context.Tag("@ibex/testkit/MemoryDatabase")<
  MemoryDatabase,
  MemoryDatabaseShape
>() {}

export const MemoryDatabaseLive = Layer.effect(
  MemoryDatabase,
  Effect.map(PubSub.unbounded<RevocationEvent>(), (revocations) => ({
    orgs: new Map(),
    users: new Map(),
    agents: new Map(),
    tokens: new Map(),
    platformAdmins: new Map(),
    usage: new Map(),
    orgLimits: new Map(),
    revocations,
    nextSeq: 0,
    failing: false
  }))
)

export { RevocationEvent }
