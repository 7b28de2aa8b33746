import { Context, type Effect, type Option } from "effect"
import type { StoreUnavailable } from "../errors.js"
import type { OrgId } from "../ids.js"
import type { OrgLimits } from "../usage/UsageRecord.js"

/**
 * An org's metering limits (tokens per minute, monthly budget), read and written in the org's
 * own context. Kept apart from OrgStore: the `Org` record every other path reads (validation,
 * the platform admin's API) stays as it is, and the limits can grow (per agent, per token)
 * without widening it.
 */
export interface OrgLimitsStoreShape {
  /** None when there is no such org (another org's limits are out of reach by construction). */
  readonly get: (orgId: OrgId) => Effect.Effect<Option.Option<OrgLimits>, StoreUnavailable>
  /**
   * Replaces both limits (null clears one). Announced to every cache as an org change, as a
   * rate-limit change is. None when there is no such org.
   */
  readonly set: (orgId: OrgId, limits: OrgLimits) => Effect.Effect<Option.Option<OrgLimits>, StoreUnavailable>
}

export class OrgLimitsStore extends Context.Tag("@ibex/domain/OrgLimitsStore")<OrgLimitsStore, OrgLimitsStoreShape>() {}
