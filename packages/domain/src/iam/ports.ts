import { Context, type Effect, type Option, type Redacted } from "effect"
import type { StoreUnavailable } from "../errors.js"
import type { OrgId } from "../ids.js"
import type {
  Assignment,
  Invitation,
  InvitationId,
  Operator,
  OperatorCredentials,
  OperatorId,
  OperatorStatus,
  SessionFamilyId
} from "./Operator.js"

// ---------------------------------------------------------------------------------------------
// OperatorStore: identities and their credentials (no tenant's: an operator spans orgs)

export interface NewOperator {
  readonly id: OperatorId
  readonly email: string
  readonly displayName: string
  readonly passwordHash: string | null
  readonly platformAdmin: boolean
}

export interface OperatorStoreShape {
  /** None when the e-mail (case-insensitive) is taken. */
  readonly insert: (operator: NewOperator) => Effect.Effect<Option.Option<Operator>, StoreUnavailable>
  readonly find: (id: OperatorId) => Effect.Effect<Option.Option<OperatorCredentials>, StoreUnavailable>
  readonly findByEmail: (email: string) => Effect.Effect<Option.Option<OperatorCredentials>, StoreUnavailable>
  /** Oldest first. */
  readonly list: Effect.Effect<ReadonlyArray<Operator>, StoreUnavailable>
  readonly setPassword: (id: OperatorId, passwordHash: string) => Effect.Effect<boolean, StoreUnavailable>
  readonly setStatus: (
    id: OperatorId,
    status: OperatorStatus
  ) => Effect.Effect<Option.Option<Operator>, StoreUnavailable>
  readonly setPlatformAdmin: (
    id: OperatorId,
    value: boolean
  ) => Effect.Effect<Option.Option<Operator>, StoreUnavailable>
  /** Starts (or restarts) a TOTP enrollment; the confirmed secret, if any, is unchanged. */
  readonly setPendingTotp: (
    id: OperatorId,
    secret: Redacted.Redacted<string>
  ) => Effect.Effect<boolean, StoreUnavailable>
  /** The pending secret becomes the confirmed one and the recovery codes (digests) replace any earlier ones. */
  readonly confirmTotp: (
    id: OperatorId,
    recoveryCodeDigests: ReadonlyArray<string>
  ) => Effect.Effect<boolean, StoreUnavailable>
  /**
   * Records that a sign-in used the TOTP code of `step`, atomically: true only when `step` is later
   * than every step used before (so each code works once, RFC 6238 §5.2).
   */
  readonly useTotpStep: (id: OperatorId, step: number) => Effect.Effect<boolean, StoreUnavailable>
  /** Removes TOTP (confirmed and pending) and every recovery code. */
  readonly clearMfa: (id: OperatorId) => Effect.Effect<boolean, StoreUnavailable>
  /** Marks one unused recovery code used, atomically: true for exactly one of concurrent callers. */
  readonly consumeRecoveryCode: (id: OperatorId, digest: string) => Effect.Effect<boolean, StoreUnavailable>
  readonly insertResetToken: (input: {
    readonly digest: string
    readonly operatorId: OperatorId
    readonly expiresAt: Date
  }) => Effect.Effect<void, StoreUnavailable>
  /**
   * Spends a reset token atomically (unused and unexpired at `now`), and every other unused reset
   * token of the same operator with it: the operator, or None.
   */
  readonly consumeResetToken: (digest: string, now: Date) => Effect.Effect<Option.Option<OperatorId>, StoreUnavailable>
}

export class OperatorStore extends Context.Tag("@ibex/domain/OperatorStore")<OperatorStore, OperatorStoreShape>() {}

// ---------------------------------------------------------------------------------------------
// SessionStore: refresh-token families (stored as digests)

export type RotateResult =
  | { readonly _tag: "Rotated"; readonly familyId: SessionFamilyId; readonly operatorId: OperatorId }
  /** The token had been spent before (longer ago than the grace): the family is now revoked. */
  | { readonly _tag: "Reused"; readonly familyId: SessionFamilyId }
  /** The token was spent within the grace (a concurrent refresh lost the race): refused, family kept. */
  | { readonly _tag: "Raced" }
  | { readonly _tag: "Invalid" }

export interface SessionStoreShape {
  readonly create: (input: {
    readonly familyId: SessionFamilyId
    readonly operatorId: OperatorId
    readonly tokenDigest: string
    readonly expiresAt: Date
  }) => Effect.Effect<void, StoreUnavailable>
  /**
   * Spends `digest` and stores `next` in its family, atomically (one conditional UPDATE): of
   * concurrent callers with one token exactly one gets Rotated. A token spent within `reuseGraceMs`
   * before `now` is Raced (the loser of concurrent refreshes: refused, the family kept); spent
   * earlier, it revokes its family (Reused); unknown, expired or revoked ones are Invalid.
   */
  readonly rotate: (input: {
    readonly digest: string
    readonly nextDigest: string
    readonly now: Date
    readonly expiresAt: Date
    readonly reuseGraceMs: number
  }) => Effect.Effect<RotateResult, StoreUnavailable>
  /** The family's operator while the family is neither revoked nor expired. */
  readonly active: (familyId: SessionFamilyId, now: Date) => Effect.Effect<Option.Option<OperatorId>, StoreUnavailable>
  readonly revokeFamily: (familyId: SessionFamilyId) => Effect.Effect<void, StoreUnavailable>
  readonly revokeAll: (operatorId: OperatorId) => Effect.Effect<void, StoreUnavailable>
}

export class SessionStore extends Context.Tag("@ibex/domain/SessionStore")<SessionStore, SessionStoreShape>() {}

// ---------------------------------------------------------------------------------------------
// MembershipStore: role assignments and invitations (tenant rows: each belongs to one org)

export interface MembershipStoreShape {
  /** Every org role of an operator (read before any org is chosen). */
  readonly forOperator: (operatorId: OperatorId) => Effect.Effect<ReadonlyArray<Assignment>, StoreUnavailable>
  /** The org's assignments only. */
  readonly list: (orgId: OrgId) => Effect.Effect<ReadonlyArray<Assignment>, StoreUnavailable>
  /** Creates or replaces the operator's role in the assignment's org. */
  readonly put: (assignment: Assignment) => Effect.Effect<Assignment, StoreUnavailable>
  readonly remove: (orgId: OrgId, operatorId: OperatorId) => Effect.Effect<boolean, StoreUnavailable>
  readonly insertInvitation: (invitation: Invitation, digest: string) => Effect.Effect<Invitation, StoreUnavailable>
  /** The org's unused, unexpired invitations. */
  readonly listInvitations: (orgId: OrgId, now: Date) => Effect.Effect<ReadonlyArray<Invitation>, StoreUnavailable>
  readonly revokeInvitation: (orgId: OrgId, id: InvitationId) => Effect.Effect<boolean, StoreUnavailable>
  /** Spends an invitation atomically (before any org context: the invitee has none yet). */
  readonly consumeInvitation: (digest: string, now: Date) => Effect.Effect<Option.Option<Invitation>, StoreUnavailable>
}

export class MembershipStore extends Context.Tag("@ibex/domain/MembershipStore")<
  MembershipStore,
  MembershipStoreShape
>() {}

// ---------------------------------------------------------------------------------------------
// AuditTrail: the append-only record of every admin mutation

export interface AuditEntryInput {
  /** `operator:<id>` or `system`. */
  readonly actor: string
  /** A stable action name (`agent.pause`, …; docs/ADMIN_API.md). */
  readonly action: string
  readonly target: string | null
  readonly orgId: OrgId | null
  readonly requestId: string
  /** Ids, names, roles: never a secret. */
  readonly detail: Readonly<Record<string, string | number | boolean | null>>
}

export interface AuditEntry extends AuditEntryInput {
  /** Increasing: newer entries have larger ids. */
  readonly id: string
  readonly at: Date
}

export interface AuditTrailShape {
  readonly append: (entry: AuditEntryInput) => Effect.Effect<AuditEntry, StoreUnavailable>
  /** Newest first; `orgId` null: every org's and the platform's entries; `before`: an entry id. */
  readonly list: (query: {
    readonly orgId: OrgId | null
    readonly limit: number
    readonly before: string | null
  }) => Effect.Effect<ReadonlyArray<AuditEntry>, StoreUnavailable>
}

export class AuditTrail extends Context.Tag("@ibex/domain/AuditTrail")<AuditTrail, AuditTrailShape>() {}

// ---------------------------------------------------------------------------------------------
// Mailer

export interface MailMessage {
  readonly to: string
  readonly kind: "reset" | "invitation"
  readonly subject: string
  /** The link the mail carries (its one secret). */
  readonly link: Redacted.Redacted<string>
  readonly text: string
}

export interface MailerShape {
  /** Fire and report: a failure is logged by the adapter and answered as success (no enumeration). */
  readonly send: (message: MailMessage) => Effect.Effect<void>
}

export class Mailer extends Context.Tag("@ibex/domain/Mailer")<Mailer, MailerShape>() {}

// ---------------------------------------------------------------------------------------------
// Crypto ports (adapters on node:crypto)

export interface AccessClaims {
  /** `access`: a session's access token; `mfa`: a sign-in waiting for its second factor. */
  readonly typ: "access" | "mfa"
  readonly sub: OperatorId
  /** The session family (access tokens). */
  readonly sid: SessionFamilyId | null
  /** The CSRF token bound to the session (access tokens). */
  readonly csrf: string | null
  /** Expiry, Unix milliseconds. */
  readonly exp: number
}

export interface AccessTokenSignerShape {
  readonly sign: (claims: AccessClaims) => Effect.Effect<Redacted.Redacted<string>>
  /** None for a bad signature, an unknown key id, a malformed token or an expired one (at `nowMs`). */
  readonly verify: (token: Redacted.Redacted<string>, nowMs: number) => Effect.Effect<Option.Option<AccessClaims>>
}

export class AccessTokenSigner extends Context.Tag("@ibex/domain/AccessTokenSigner")<
  AccessTokenSigner,
  AccessTokenSignerShape
>() {}

export interface TotpAlgorithmShape {
  /** HOTP (RFC 4226, HMAC-SHA1, 6 digits) of a base32 secret at `counter`; RFC 6238 picks the counter. */
  readonly code: (secretBase32: Redacted.Redacted<string>, counter: number) => string
}

export class TotpAlgorithm extends Context.Tag("@ibex/domain/TotpAlgorithm")<TotpAlgorithm, TotpAlgorithmShape>() {}
