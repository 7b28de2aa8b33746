import { Context, Data, type Stream } from "effect"
import type { AgentId, OrgId, TokenId } from "../ids.js"

/**
 * Pushes revocations to every auth instance: a token revoked, changed or deleted, an agent whose
 * status changed (an agent paused or suspended loses its authorization like a revoked token), an
 * org whose status or limits changed (a disabled org's tokens stop working). `Disconnected`
 * means notices may be lost from now on: a listener must stop trusting its cache until
 * `Connected` arrives again.
 */
export type RevocationEvent = Data.TaggedEnum<{
  Revoked: { readonly tokenId: TokenId }
  /** Permissions or expiry changed, or the row was deleted: drop what is cached, look it up again. */
  TokenChanged: { readonly tokenId: TokenId }
  AgentChanged: { readonly agentId: AgentId }
  OrgChanged: { readonly orgId: OrgId }
  Connected: {}
  Disconnected: {}
}>
export const RevocationEvent = Data.taggedEnum<RevocationEvent>()

export interface RevocationFeedShape {
  /** Each subscriber sees every event published after it subscribed, starting with its current state. */
  readonly subscribe: Stream.Stream<RevocationEvent>
}

export class RevocationFeed extends Context.Tag("@ibex/domain/RevocationFeed")<RevocationFeed, RevocationFeedShape>() {}
