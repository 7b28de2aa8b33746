import type { OrgId } from "../ids.js"
import type { OrgRole } from "./Operator.js"

/**
 * Rights, roles and the one authorization function every admin operation goes through. Pure:
 * the caller loads the principal's assignments fresh for each request (no cache), so a changed
 * assignment decides the very next request.
 */
export const platformRights = [
  "orgs:create",
  "orgs:update",
  "orgs:list_all",
  "operators:manage",
  "platform:audit"
] as const
export const orgRights = [
  "orgs:read",
  "agents:read",
  "agents:write",
  "tokens:read",
  "tokens:write",
  "usage:read",
  "budget:read",
  "budget:write",
  "users:read",
  "users:invite",
  "assignments:read",
  "assignments:write",
  "audit:read"
] as const

export type PlatformRight = (typeof platformRights)[number]
export type OrgRight = (typeof orgRights)[number]
export type Right = PlatformRight | OrgRight
export const allRights: ReadonlyArray<Right> = [...platformRights, ...orgRights]

const viewer: ReadonlyArray<OrgRight> = [
  "orgs:read",
  "agents:read",
  "tokens:read",
  "usage:read",
  "budget:read",
  "users:read"
]
const member: ReadonlyArray<OrgRight> = [...viewer, "agents:write", "tokens:write"]

/** The rights of each org role, in its org. A platform admin has every right in every org. */
export const RoleRights: { readonly [R in OrgRole]: ReadonlyArray<OrgRight> } = {
  org_admin: orgRights,
  member,
  viewer
}

export type RoleName = OrgRole | "platform_admin"
export const roleRights = (role: RoleName): ReadonlyArray<Right> =>
  role === "platform_admin" ? allRights : RoleRights[role]

/** Who asks: the platform flag and the org roles, as read for this request. */
export interface AuthzPrincipal {
  readonly platformAdmin: boolean
  readonly roles: ReadonlyMap<OrgId, OrgRole>
}

export type AuthzDecision =
  | { readonly allow: true; readonly reason: string }
  | { readonly allow: false; readonly reason: "not_a_member" | "role_lacks_right" | "platform_only" }

const isPlatformRight = (right: Right): right is PlatformRight =>
  (platformRights as ReadonlyArray<string>).includes(right)

/**
 * The authorization function: may `principal` do `action` in `org` (null: a platform-level action)?
 * Deny reasons: `not_a_member` (no role in the org: the edge answers 403 ORG_ACCESS_DENIED, and
 * existence of the org is not revealed), `role_lacks_right`, `platform_only`.
 */
export const authorize = (principal: AuthzPrincipal, org: OrgId | null, action: Right): AuthzDecision => {
  if (principal.platformAdmin) return { allow: true, reason: "platform_admin" }
  if (isPlatformRight(action) || org === null) return { allow: false, reason: "platform_only" }
  const role = principal.roles.get(org)
  if (role === undefined) return { allow: false, reason: "not_a_member" }
  return RoleRights[role].includes(action)
    ? { allow: true, reason: `role:${role}` }
    : { allow: false, reason: "role_lacks_right" }
}

/** What the console shows: the rights the principal holds, platform-wide and per org. */
export const rightsOf = (principal: AuthzPrincipal) => ({
  platform: principal.platformAdmin ? [...platformRights] : [],
  orgs: Object.fromEntries([...principal.roles].map(([org, role]) => [org, [...RoleRights[role]]]))
})
