import { Context, Data, type Stream } from "effect"
import type { AgentId, OrgId, TokenId } from "../ids.js"

/**
 * Pushes revocations to every auth instance: a token revoked, changed or deleted, an agent whose
 * status changed (an agent paused or suspended loses its authorization like a revoked token), an
 * org whose status or limits changed (a disabled org's tokens stop working). `Disconnected`
 * means notices may be lost from now on: a listener must drop and stop trusting its cache until
 * `Connected` arrives again. `Stale` / `Fresh` say the same connection is late / on time again.
 */
export type RevocationEvent = Data.TaggedEnum<{
  Revoked: { readonly tokenId: TokenId }
  /** Permissions or expiry changed, or the row was deleted: drop what is cached, look it up again. */
  TokenChanged: { readonly tokenId: TokenId }
  AgentChanged: { readonly agentId: AgentId }
  OrgChanged: { readonly orgId: OrgId }
  /**
   * The connection is up but has not proven itself alive lately (its heartbeat echo is late):
   * stop answering from caches, keep their entries. Notices cannot have been lost yet.
   */
  Stale: {}
  /**
   * The late echo arrived: every notice sent before it has been delivered (one connection delivers
   * in order), so the kept entries are current again and may be trusted.
   */
  Fresh: {}
  Connected: {}
  Disconnected: {}
}>
export const RevocationEvent = Data.taggedEnum<RevocationEvent>()

export interface RevocationFeedShape {
  /** Each subscriber sees every event published after it subscribed, starting with its current state. */
  readonly subscribe: Stream.Stream<RevocationEvent>
}

export class RevocationFeed extends Context.Tag("@ibex/domain/RevocationFeed")<RevocationFeed, RevocationFeedShape>() {}
