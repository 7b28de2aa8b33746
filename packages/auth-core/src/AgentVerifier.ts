import {
  type Agent,
  type AgentId,
  type AgentNotAuthorized,
  AgentStore,
  type AgentSuspended,
  BoundedMap,
  checkAgent,
  type OrgId,
  RevocationFeed,
  type StoreUnavailable
} from "@ibex/domain"
import { Clock, Context, Effect, Layer, Option, Stream } from "effect"

export interface AgentVerifierShape {
  /** The agent must exist in the org and be active (ADR-0016). */
  readonly verify: (
    orgId: OrgId,
    agentId: AgentId
  ) => Effect.Effect<Agent, AgentNotAuthorized | AgentSuspended | StoreUnavailable>
}

export class AgentVerifier extends Context.Tag("@ibex/auth-core/AgentVerifier")<AgentVerifier, AgentVerifierShape>() {}

export interface AgentVerifierOptions {
  /** Hard backstop on how long a looked-up agent is trusted without a fresh read. */
  readonly ttlMs: number
  readonly maxEntries: number
}

export const defaultAgentVerifierOptions: AgentVerifierOptions = { ttlMs: 5_000, maxEntries: 10_000 }

/**
 * Why this exists (docs/PERFORMANCE.md): without it every proxied request pays a Postgres
 * transaction to read its agent, the largest remote cost of the chain. Agents found in the
 * store are remembered per (org, agent) for at most `ttlMs`; a status change is pushed by the
 * same feed as token revocations (`AgentChanged`) and evicts at once, and while the feed is
 * disconnected nothing is remembered — the same rules that keep the token cache honest.
 * Agents not found are never remembered: a new agent works on its first request.
 */
export const makeAgentVerifier = (options: AgentVerifierOptions = defaultAgentVerifierOptions) =>
  Effect.gen(function* () {
    const agents = yield* AgentStore
    const feed = yield* RevocationFeed
    const cache = new BoundedMap<string, { readonly agent: Agent; readonly expiresAtMs: number }>(options.maxEntries)
    let connected = false
    let trusted = false
    // Bumped on every change notice or feed drop: a read that started before must not be cached.
    let epoch = 0

    const keyOf = (orgId: OrgId, agentId: AgentId) => `${orgId}/${agentId}`
    const forgetAgent = (agentId: AgentId) => {
      for (const key of cache.keys()) if (key.endsWith(`/${agentId}`)) cache.delete(key)
    }

    yield* feed.subscribe.pipe(
      Stream.runForEach((event) =>
        Effect.sync(() => {
          switch (event._tag) {
            case "AgentChanged":
              epoch++
              forgetAgent(event.agentId)
              break
            case "Disconnected":
              epoch++
              connected = false
              trusted = false
              cache.clear()
              break
            case "Connected":
              epoch++
              cache.clear()
              connected = true
              trusted = true
              break
            case "Stale":
              trusted = false
              break
            case "Fresh":
              trusted = connected
              break
            case "OrgChanged":
              epoch++
              for (const key of cache.keys()) if (key.startsWith(`${event.orgId}/`)) cache.delete(key)
              break
            case "Revoked":
            case "TokenChanged":
              break
          }
        })
      ),
      Effect.forkScoped
    )

    const verify = (orgId: OrgId, agentId: AgentId) =>
      Effect.gen(function* () {
        const nowMs = yield* Clock.currentTimeMillis
        const key = keyOf(orgId, agentId)
        if (trusted) {
          const hit = cache.get(key)
          if (hit !== undefined && hit.expiresAtMs > nowMs) return yield* checkAgent(orgId, hit.agent)
          if (hit !== undefined) cache.delete(key)
        }
        const startEpoch = epoch
        const found = yield* agents.find(orgId, agentId)
        if (Option.isSome(found) && trusted && epoch === startEpoch) {
          cache.set(key, { agent: found.value, expiresAtMs: nowMs + options.ttlMs })
        }
        return yield* checkAgent(orgId, Option.getOrUndefined(found))
      }).pipe(Effect.withSpan("AgentVerifier.verify", { captureStackTrace: false }))

    return AgentVerifier.of({ verify })
  })

export const AgentVerifierLive = (options?: AgentVerifierOptions) =>
  Layer.scoped(AgentVerifier, makeAgentVerifier(options))
