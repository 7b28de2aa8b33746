import { type Redacted, Schema } from "effect"
import { OrgId } from "../ids.js"

/**
 * Operators: the people who run the gateway (issue 15). An operator is a global identity (one
 * e-mail, one password, optional TOTP) with roles in orgs; it is not an org's `User` row and
 * never authenticates an agent's request at the proxy (PATs do).
 */
export const OperatorId = Schema.UUID.pipe(Schema.brand("OperatorId"))
export type OperatorId = typeof OperatorId.Type

export const SessionFamilyId = Schema.UUID.pipe(Schema.brand("SessionFamilyId"))
export type SessionFamilyId = typeof SessionFamilyId.Type

export const InvitationId = Schema.UUID.pipe(Schema.brand("InvitationId"))
export type InvitationId = typeof InvitationId.Type

export const OperatorStatus = Schema.Literal("active", "disabled")
export type OperatorStatus = typeof OperatorStatus.Type

export class Operator extends Schema.Class<Operator>("Operator")({
  id: OperatorId,
  /** Stored as given (trimmed); compared case-insensitively. */
  email: Schema.String,
  displayName: Schema.String,
  status: OperatorStatus,
  mfaEnabled: Schema.Boolean,
  platformAdmin: Schema.Boolean,
  createdAt: Schema.DateFromSelf
}) {}

/** What sign-in needs beside the operator: never returned by an API, never logged. */
export interface OperatorCredentials {
  readonly operator: Operator
  /** Argon2id PHC string; null: no password yet (cannot sign in). */
  readonly passwordHash: string | null
  /** The confirmed TOTP secret (base32), or null. */
  readonly totpSecret: Redacted.Redacted<string> | null
  /** An enrollment not yet confirmed (base32), or null. */
  readonly pendingTotpSecret: Redacted.Redacted<string> | null
}

/** Roles an operator holds in an org (platform admin is a flag on the operator, across every org). */
export const OrgRole = Schema.Literal("org_admin", "member", "viewer")
export type OrgRole = typeof OrgRole.Type
export const orgRoles: ReadonlyArray<OrgRole> = OrgRole.literals

export class Assignment extends Schema.Class<Assignment>("Assignment")({
  operatorId: OperatorId,
  orgId: OrgId,
  role: OrgRole,
  createdAt: Schema.DateFromSelf
}) {}

export class Invitation extends Schema.Class<Invitation>("Invitation")({
  id: InvitationId,
  orgId: OrgId,
  email: Schema.String,
  role: OrgRole,
  invitedBy: Schema.NullOr(OperatorId),
  createdAt: Schema.DateFromSelf,
  expiresAt: Schema.DateFromSelf
}) {}

/** A lower-cased, trimmed e-mail: the form lookups compare. */
export const normalizeEmail = (email: string): string => email.trim().toLowerCase()

const EMAIL = /^[^\s@]+@[^\s@]+$/

export const isPlausibleEmail = (email: string): boolean => {
  const e = email.trim()
  return e.length >= 3 && e.length <= 320 && EMAIL.test(e)
}

export const MIN_PASSWORD_LENGTH = 12
export const MAX_PASSWORD_LENGTH = 256
