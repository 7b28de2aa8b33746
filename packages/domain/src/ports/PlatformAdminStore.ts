import { Context, type Effect, type Option } from "effect"
import type { StoreUnavailable } from "../errors.js"
import type { PlatformAdmin, PlatformAdminCredential, PlatformAdminId } from "../PlatformAdmin.js"

export interface NewPlatformAdmin {
  readonly id: PlatformAdminId
  readonly name: string
  /** Argon2id PHC string; the store never receives plaintext. */
  readonly secretHash: string
}

/**
 * Platform-admin credentials. `findCredential` is what the auth service (app role) may do; the
 * writes and the list are the database owner's (on Postgres the app role has no grant on the
 * table, so they fail with StoreUnavailable there).
 */
export interface PlatformAdminStoreShape {
  readonly findCredential: (
    id: PlatformAdminId
  ) => Effect.Effect<Option.Option<PlatformAdminCredential>, StoreUnavailable>
  readonly insert: (admin: NewPlatformAdmin) => Effect.Effect<PlatformAdmin, StoreUnavailable>
  readonly list: Effect.Effect<ReadonlyArray<PlatformAdmin>, StoreUnavailable>
  /** Revokes (first time wins); None when there is no such credential. */
  readonly revoke: (id: PlatformAdminId, at: Date) => Effect.Effect<Option.Option<PlatformAdmin>, StoreUnavailable>
}

export class PlatformAdminStore extends Context.Tag("@ibex/domain/PlatformAdminStore")<
  PlatformAdminStore,
  PlatformAdminStoreShape
>() {}
