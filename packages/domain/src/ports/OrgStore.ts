import { Context, type Effect, type Option } from "effect"
import type { StoreUnavailable } from "../errors.js"
import type { OrgId, UserId } from "../ids.js"
import type { Org, OrgStatus, User } from "../Org.js"

export interface OrgStoreShape {
  readonly find: (orgId: OrgId) => Effect.Effect<Option.Option<Org>, StoreUnavailable>
  /** Creating an org is a platform operation (admin CLI, seed), the only write without a tenant. */
  readonly insert: (org: Org) => Effect.Effect<Org, StoreUnavailable>
  readonly setStatus: (orgId: OrgId, status: OrgStatus) => Effect.Effect<Option.Option<Org>, StoreUnavailable>
  readonly findByName: (name: string) => Effect.Effect<Option.Option<Org>, StoreUnavailable>
  /** Every org, oldest first: a platform operation (the one cross-tenant read). */
  readonly list: Effect.Effect<ReadonlyArray<Org>, StoreUnavailable>
  /** In the org's own context; None when there is no such org. The name must be free (unique). */
  readonly rename: (orgId: OrgId, name: string) => Effect.Effect<Option.Option<Org>, StoreUnavailable>
  /** Null clears it (the proxy's default applies). Announced to every cache, as setStatus is. */
  readonly setRateLimit: (orgId: OrgId, perMinute: number | null) => Effect.Effect<Option.Option<Org>, StoreUnavailable>
}

export class OrgStore extends Context.Tag("@ibex/domain/OrgStore")<OrgStore, OrgStoreShape>() {}

export interface UserStoreShape {
  readonly find: (orgId: OrgId, userId: UserId) => Effect.Effect<Option.Option<User>, StoreUnavailable>
  readonly insert: (user: User) => Effect.Effect<User, StoreUnavailable>
}

export class UserStore extends Context.Tag("@ibex/domain/UserStore")<UserStore, UserStoreShape>() {}
