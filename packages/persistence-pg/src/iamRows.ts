import {
  Assignment,
  type AuditEntry,
  Invitation,
  type InvitationId,
  Operator,
  type OperatorCredentials,
  type OperatorId,
  type OperatorStatus,
  type OrgId,
  type OrgRole
} from "@ibex/domain"
import { Redacted } from "effect"

/** Issue 15's rows as node-postgres returns them, and their decoding (constructors validate). */
export interface OperatorRow {
  readonly id: string
  readonly email: string
  readonly display_name: string
  readonly password_hash: string | null
  readonly status: string
  readonly platform_admin: boolean
  readonly totp_secret: string | null
  readonly pending_totp_secret: string | null
  readonly created_at: Date
}

export const operatorFromRow = (row: OperatorRow): Operator =>
  new Operator({
    id: row.id as OperatorId,
    email: row.email,
    displayName: row.display_name,
    status: row.status as OperatorStatus,
    mfaEnabled: row.totp_secret !== null,
    platformAdmin: row.platform_admin,
    createdAt: row.created_at
  })

export const credentialsFromRow = (row: OperatorRow): OperatorCredentials => ({
  operator: operatorFromRow(row),
  passwordHash: row.password_hash,
  totpSecret: row.totp_secret === null ? null : Redacted.make(row.totp_secret),
  pendingTotpSecret: row.pending_totp_secret === null ? null : Redacted.make(row.pending_totp_secret)
})

export interface AssignmentRow {
  readonly org_id: string
  readonly operator_id: string
  readonly role: string
  readonly created_at: Date
}

export const assignmentFromRow = (row: AssignmentRow) =>
  new Assignment({
    orgId: row.org_id as OrgId,
    operatorId: row.operator_id as OperatorId,
    role: row.role as OrgRole,
    createdAt: row.created_at
  })

export interface InvitationRow {
  readonly id: string
  readonly org_id: string
  readonly email: string
  readonly role: string
  readonly invited_by: string | null
  readonly created_at: Date
  readonly expires_at: Date
}

export const invitationFromRow = (row: InvitationRow) =>
  new Invitation({
    id: row.id as InvitationId,
    orgId: row.org_id as OrgId,
    email: row.email,
    role: row.role as OrgRole,
    invitedBy: row.invited_by as OperatorId | null,
    createdAt: row.created_at,
    expiresAt: row.expires_at
  })

export interface AuditRow {
  readonly id: string | number
  readonly at: Date
  readonly actor: string
  readonly action: string
  readonly target: string | null
  readonly org_id: string | null
  readonly request_id: string
  readonly detail: unknown
}

export const auditFromRow = (row: AuditRow): AuditEntry => ({
  id: String(row.id),
  at: row.at,
  actor: row.actor,
  action: row.action,
  target: row.target,
  orgId: row.org_id as OrgId | null,
  requestId: row.request_id,
  detail: (typeof row.detail === "string" ? JSON.parse(row.detail) : (row.detail ?? {})) as AuditEntry["detail"]
})
