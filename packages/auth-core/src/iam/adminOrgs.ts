import {
  Conflict,
  checkName,
  Org,
  type OrgId,
  type OrgStatus,
  OrgStore,
  ResourceNotFound,
  SecureRandom,
  uuidFromBytes
} from "@ibex/domain"
import { Clock, Effect, Option } from "effect"
import { MAX_ORG_NAME, renameOrg, setOrgRateLimit, setOrgStatus } from "../platformAdmin.js"
import { type AdminContext, actorOf, audit, requireRight } from "./authorization.js"

/** Every org for a platform admin; otherwise the orgs the operator has a role in. */
export const adminListOrgs = (ctx: AdminContext) =>
  Effect.gen(function* () {
    const orgs = yield* OrgStore
    if (ctx.principal.authz.platformAdmin) return yield* orgs.list
    const found = yield* Effect.forEach(ctx.principal.assignments, (a) => orgs.find(a.orgId))
    return found.flatMap((o) => (Option.isSome(o) ? [o.value] : []))
  }).pipe(Effect.withSpan("AdminOrgs.list"))

export const adminGetOrg = (ctx: AdminContext, orgId: OrgId) =>
  Effect.gen(function* () {
    yield* requireRight(ctx, orgId, "orgs:read")
    const org = yield* (yield* OrgStore).find(orgId)
    if (Option.isNone(org)) return yield* new ResourceNotFound({ resource: "org" })
    return org.value
  }).pipe(Effect.withSpan("AdminOrgs.get"))

export const adminCreateOrg = (
  ctx: AdminContext,
  input: { readonly name: string; readonly rateLimitPerMinute: number | null }
) =>
  Effect.gen(function* () {
    yield* requireRight(ctx, null, "orgs:create")
    const name = yield* checkName("name", input.name, MAX_ORG_NAME)
    const orgs = yield* OrgStore
    if (Option.isSome(yield* orgs.findByName(name))) return yield* new Conflict({ what: "org_name" })
    const id = uuidFromBytes(yield* (yield* SecureRandom).bytes(16), 4) as OrgId
    const org = yield* orgs.insert(
      new Org({
        id,
        name,
        status: "active",
        rateLimitPerMinute: null,
        createdAt: new Date(yield* Clock.currentTimeMillis)
      })
    )
    const limited =
      input.rateLimitPerMinute === null ? org : yield* setOrgRateLimit(actorOf(ctx), org.id, input.rateLimitPerMinute)
    yield* audit(ctx, "org.create", org.id, org.id, { name })
    return limited
  }).pipe(Effect.withSpan("AdminOrgs.create"))

export interface OrgPatch {
  readonly name?: string | undefined
  readonly rateLimitPerMinute?: number | null | undefined
  readonly status?: OrgStatus | undefined
}

export const adminUpdateOrg = (ctx: AdminContext, orgId: OrgId, patch: OrgPatch) =>
  Effect.gen(function* () {
    yield* requireRight(ctx, orgId, "orgs:update")
    const actor = actorOf(ctx)
    let org: Org | undefined
    if (patch.name !== undefined) org = yield* renameOrg(actor, orgId, patch.name)
    if (patch.rateLimitPerMinute !== undefined) org = yield* setOrgRateLimit(actor, orgId, patch.rateLimitPerMinute)
    if (patch.status !== undefined) org = yield* setOrgStatus(actor, orgId, patch.status)
    if (org === undefined) {
      const found = yield* (yield* OrgStore).find(orgId)
      if (Option.isNone(found)) return yield* new ResourceNotFound({ resource: "org" })
      return found.value
    }
    yield* audit(ctx, "org.update", orgId, orgId, {
      name: patch.name ?? null,
      rate_limit_per_minute: patch.rateLimitPerMinute ?? null,
      status: patch.status ?? null
    })
    return org
  }).pipe(Effect.withSpan("AdminOrgs.update"))
