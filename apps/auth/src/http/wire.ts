import type { OperatorPrincipal } from "@ibex/auth-core"
import {
  type Agent,
  type Assignment,
  type AuditEntry,
  type Invitation,
  type Operator,
  type Org,
  Permissions,
  rightsOf,
  type TokenInfo
} from "@ibex/domain"

/** The admin API's JSON shapes (docs/ADMIN_API.md, "Shapes"): snake_case, RFC 3339 times, never a secret. */
const time = (d: Date | null) => (d === null ? null : d.toISOString())

export const orgJson = (o: Org) => ({
  id: o.id,
  name: o.name,
  status: o.status,
  rate_limit_per_minute: o.rateLimitPerMinute,
  created_at: time(o.createdAt)
})

export const agentJson = (a: Agent) => ({
  id: a.id,
  org_id: a.orgId,
  name: a.name,
  status: a.status,
  created_at: time(a.createdAt)
})

export const tokenJson = (t: TokenInfo) => ({
  id: t.id,
  org_id: t.orgId,
  name: t.name,
  display_prefix: t.displayPrefix,
  permissions: Permissions.toNames(t.permissions),
  created_at: time(t.createdAt),
  expires_at: time(t.expiresAt),
  revoked_at: time(t.revokedAt),
  last_used_at: time(t.lastUsedAt)
})

export const operatorJson = (o: Operator) => ({
  id: o.id,
  email: o.email,
  display_name: o.displayName,
  status: o.status,
  mfa_enabled: o.mfaEnabled,
  platform_admin: o.platformAdmin,
  created_at: time(o.createdAt)
})

export const assignmentJson = (operator: Operator, a: Assignment) => ({
  operator_id: a.operatorId,
  email: operator.email,
  display_name: operator.displayName,
  org_id: a.orgId,
  role: a.role,
  created_at: time(a.createdAt)
})

export const userJson = (operator: Operator, a: Assignment) => ({
  operator_id: operator.id,
  email: operator.email,
  display_name: operator.displayName,
  status: operator.status,
  role: a.role,
  mfa_enabled: operator.mfaEnabled
})

export const invitationJson = (i: Invitation) => ({
  id: i.id,
  org_id: i.orgId,
  email: i.email,
  role: i.role,
  invited_by: i.invitedBy,
  created_at: time(i.createdAt),
  expires_at: time(i.expiresAt)
})

export const auditJson = (e: AuditEntry) => ({
  id: e.id,
  at: time(e.at),
  actor: e.actor,
  action: e.action,
  target: e.target,
  org_id: e.orgId,
  request_id: e.requestId,
  detail: e.detail
})

export const meJson = (p: OperatorPrincipal, orgNames: ReadonlyMap<string, string>, csrf: string) => ({
  operator: operatorJson(p.operator),
  memberships: p.assignments.map((a) => ({ org_id: a.orgId, org_name: orgNames.get(a.orgId) ?? null, role: a.role })),
  rights: rightsOf(p.authz),
  csrf_token: csrf
})
