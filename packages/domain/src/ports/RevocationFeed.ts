import { Context, Data, type Stream } from "effect"
import type { TokenId } from "../ids.js"

/**
 * Pushes revocations to every auth instance. `Disconnected` means notices may be lost from now
 * on: a listener must stop trusting its cache until `Connected` arrives again.
 */
export type RevocationEvent = Data.TaggedEnum<{
  Revoked: { readonly tokenId: TokenId }
  Connected: {}
  Disconnected: {}
}>
export const RevocationEvent = Data.taggedEnum<RevocationEvent>()

export interface RevocationFeedShape {
  /** Each subscriber sees every event published after it subscribed, starting with its current state. */
  readonly subscribe: Stream.Stream<RevocationEvent>
}

export class RevocationFeed extends Context.Tag("@ibex/domain/RevocationFeed")<RevocationFeed, RevocationFeedShape>() {}
