import type { RevocationEvent } from "@ibex/domain"
import { Context, Layer, PubSub } from "effect"

/**
 * The process-local side of revocation: TokenStoreLive publishes a `Revoked` here after its
 * transaction commits, and RevocationFeedLive publishes what it hears on LISTEN. Every
 * subscriber of the feed reads this one PubSub. On Postgres a revocation made in this process
 * is therefore seen twice (locally and by NOTIFY); eviction is idempotent. On PGlite, which
 * does not deliver NOTIFY across its connections, the local path is the only one, which is
 * enough for the embedded default's single auth instance.
 */
export class RevocationHub extends Context.Tag("@ibex/persistence-pg/RevocationHub")<
  RevocationHub,
  PubSub.PubSub<RevocationEvent>
>() {}

export const RevocationHubLive = Layer.effect(RevocationHub, PubSub.unbounded<RevocationEvent>())
