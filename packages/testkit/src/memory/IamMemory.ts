import {
  type Assignment,
  type AuditEntry,
  AuditTrail,
  type Invitation,
  MembershipStore,
  normalizeEmail,
  Operator,
  type OperatorCredentials,
  type OperatorId,
  OperatorStore,
  type SessionFamilyId,
  SessionStore,
  StoreUnavailable
} from "@ibex/domain"
import { Effect, Layer, Option, type Redacted } from "effect"
import { MemoryDatabase } from "./MemoryDatabase.js"

/**
 * In-memory adapters of issue 15's store ports, for tests. They follow the Postgres adapters'
 * rules: operators are no tenant's; assignments, invitations and audit entries belong to one org
 * and another org's rows are invisible; spending a token is atomic (JavaScript runs one
 * callback at a time, so check-and-set in one synchronous step is the conditional UPDATE).
 */
interface OperatorRow {
  operator: Operator
  passwordHash: string | null
  totpSecret: Redacted.Redacted<string> | null
  pendingTotpSecret: Redacted.Redacted<string> | null
  totpLastStep?: number
}

interface IamState {
  readonly operators: Map<string, OperatorRow>
  readonly recoveryCodes: Map<string, Map<string, Date | null>>
  readonly resetTokens: Map<string, { operatorId: OperatorId; expiresAt: Date; usedAt: Date | null }>
  readonly sessions: Map<string, { operatorId: OperatorId; expiresAt: Date; revokedAt: Date | null }>
  readonly refreshTokens: Map<string, { familyId: SessionFamilyId; expiresAt: Date; usedAt: Date | null }>
  readonly assignments: Map<string, Assignment>
  readonly invitations: Map<
    string,
    { invitation: Invitation; digest: string; usedAt: Date | null; revokedAt: Date | null }
  >
  readonly audit: Array<AuditEntry>
}

const states = new WeakMap<object, IamState>()
/** One IAM state per memory database, so every IAM store built over one database shares it. */
const stateOf = (db: object): IamState => {
  let s = states.get(db)
  if (s === undefined) {
    s = {
      operators: new Map(),
      recoveryCodes: new Map(),
      resetTokens: new Map(),
      sessions: new Map(),
      refreshTokens: new Map(),
      assignments: new Map(),
      invitations: new Map(),
      audit: []
    }
    states.set(db, s)
  }
  return s
}

const guard = <A>(db: { failing: boolean }, operation: string, f: () => A): Effect.Effect<A, StoreUnavailable> =>
  Effect.suspend(() => (db.failing ? Effect.fail(new StoreUnavailable({ operation })) : Effect.succeed(f())))

const credentials = (row: OperatorRow): OperatorCredentials => ({
  operator: row.operator,
  passwordHash: row.passwordHash,
  totpSecret: row.totpSecret,
  pendingTotpSecret: row.pendingTotpSecret
})

const withOperator = (row: OperatorRow, patch: Partial<Omit<OperatorRow, "operator">>, op: Partial<Operator> = {}) => {
  Object.assign(row, patch)
  row.operator = new Operator({ ...row.operator, ...op, mfaEnabled: row.totpSecret !== null })
}

export const OperatorStoreMemory = Layer.effect(
  OperatorStore,
  Effect.gen(function* () {
    const db = yield* MemoryDatabase
    const s = stateOf(db)
    const update = <A>(operation: string, id: OperatorId, f: (row: OperatorRow) => A, none: A) =>
      guard(db, operation, () => {
        const row = s.operators.get(id)
        return row === undefined ? none : f(row)
      })
    return OperatorStore.of({
      insert: (op) =>
        guard(db, "OperatorStore.insert", () => {
          const email = normalizeEmail(op.email)
          for (const row of s.operators.values())
            if (normalizeEmail(row.operator.email) === email) return Option.none<Operator>()
          const operator = new Operator({
            id: op.id,
            email: op.email.trim(),
            displayName: op.displayName,
            status: "active",
            mfaEnabled: false,
            platformAdmin: op.platformAdmin,
            createdAt: new Date()
          })
          s.operators.set(op.id, { operator, passwordHash: op.passwordHash, totpSecret: null, pendingTotpSecret: null })
          return Option.some(operator)
        }),
      find: (id) =>
        guard(db, "OperatorStore.find", () => Option.map(Option.fromNullable(s.operators.get(id)), credentials)),
      findByEmail: (email) =>
        guard(db, "OperatorStore.findByEmail", () => {
          const wanted = normalizeEmail(email)
          for (const row of s.operators.values())
            if (normalizeEmail(row.operator.email) === wanted) return Option.some(credentials(row))
          return Option.none()
        }),
      list: guard(db, "OperatorStore.list", () =>
        [...s.operators.values()].map((r) => r.operator).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())
      ),
      setPassword: (id, hash) =>
        update(
          "OperatorStore.setPassword",
          id,
          (row) => {
            withOperator(row, { passwordHash: hash })
            return true
          },
          false
        ),
      setStatus: (id, status) =>
        update(
          "OperatorStore.setStatus",
          id,
          (row) => {
            withOperator(row, {}, { status })
            return Option.some(row.operator)
          },
          Option.none()
        ),
      setPlatformAdmin: (id, value) =>
        update(
          "OperatorStore.setPlatformAdmin",
          id,
          (row) => {
            withOperator(row, {}, { platformAdmin: value })
            return Option.some(row.operator)
          },
          Option.none()
        ),
      setPendingTotp: (id, secret) =>
        update(
          "OperatorStore.setPendingTotp",
          id,
          (row) => {
            withOperator(row, { pendingTotpSecret: secret })
            return true
          },
          false
        ),
      confirmTotp: (id, digests) =>
        update(
          "OperatorStore.confirmTotp",
          id,
          (row) => {
            if (row.pendingTotpSecret === null) return false
            withOperator(row, { totpSecret: row.pendingTotpSecret, pendingTotpSecret: null })
            s.recoveryCodes.set(id, new Map(digests.map((d) => [d, null])))
            return true
          },
          false
        ),
      useTotpStep: (id, step) =>
        update(
          "OperatorStore.useTotpStep",
          id,
          (row) => {
            if (row.totpLastStep !== undefined && row.totpLastStep >= step) return false
            row.totpLastStep = step
            return true
          },
          false
        ),
      clearMfa: (id) =>
        update(
          "OperatorStore.clearMfa",
          id,
          (row) => {
            withOperator(row, { totpSecret: null, pendingTotpSecret: null })
            delete row.totpLastStep
            s.recoveryCodes.delete(id)
            return true
          },
          false
        ),
      consumeRecoveryCode: (id, digest) =>
        guard(db, "OperatorStore.consumeRecoveryCode", () => {
          const codes = s.recoveryCodes.get(id)
          if (codes === undefined || !codes.has(digest) || codes.get(digest) !== null) return false
          codes.set(digest, new Date())
          return true
        }),
      insertResetToken: (input) =>
        guard(db, "OperatorStore.insertResetToken", () => {
          if (!s.operators.has(input.operatorId)) throw new Error("foreign key violation")
          s.resetTokens.set(input.digest, { operatorId: input.operatorId, expiresAt: input.expiresAt, usedAt: null })
        }),
      consumeResetToken: (digest, now) =>
        guard(db, "OperatorStore.consumeResetToken", () => {
          const row = s.resetTokens.get(digest)
          if (row === undefined || row.usedAt !== null || row.expiresAt.getTime() <= now.getTime())
            return Option.none<OperatorId>()
          for (const other of s.resetTokens.values())
            if (other.operatorId === row.operatorId && other.usedAt === null) other.usedAt = now
          return Option.some(row.operatorId)
        })
    })
  })
)

export const SessionStoreMemory = Layer.effect(
  SessionStore,
  Effect.gen(function* () {
    const db = yield* MemoryDatabase
    const s = stateOf(db)
    return SessionStore.of({
      create: (input) =>
        guard(db, "SessionStore.create", () => {
          if (!s.operators.has(input.operatorId)) throw new Error("foreign key violation")
          s.sessions.set(input.familyId, { operatorId: input.operatorId, expiresAt: input.expiresAt, revokedAt: null })
          s.refreshTokens.set(input.tokenDigest, { familyId: input.familyId, expiresAt: input.expiresAt, usedAt: null })
        }),
      rotate: (input) =>
        guard(db, "SessionStore.rotate", () => {
          const token = s.refreshTokens.get(input.digest)
          if (token === undefined) return { _tag: "Invalid" } as const
          const family = s.sessions.get(token.familyId)
          if (
            token.usedAt === null &&
            token.expiresAt.getTime() > input.now.getTime() &&
            family !== undefined &&
            family.revokedAt === null
          ) {
            token.usedAt = input.now
            s.refreshTokens.set(input.nextDigest, {
              familyId: token.familyId,
              expiresAt: input.expiresAt,
              usedAt: null
            })
            family.expiresAt = input.expiresAt
            return { _tag: "Rotated", familyId: token.familyId, operatorId: family.operatorId } as const
          }
          if (token.usedAt !== null && token.usedAt.getTime() > input.now.getTime() - input.reuseGraceMs)
            return { _tag: "Raced" } as const
          if (token.usedAt !== null) {
            if (family !== undefined && family.revokedAt === null) family.revokedAt = input.now
            return { _tag: "Reused", familyId: token.familyId } as const
          }
          return { _tag: "Invalid" } as const
        }),
      active: (familyId, now) =>
        guard(db, "SessionStore.active", () => {
          const f = s.sessions.get(familyId)
          return f !== undefined && f.revokedAt === null && f.expiresAt.getTime() > now.getTime()
            ? Option.some(f.operatorId)
            : Option.none()
        }),
      revokeFamily: (familyId) =>
        guard(db, "SessionStore.revokeFamily", () => {
          const f = s.sessions.get(familyId)
          if (f !== undefined && f.revokedAt === null) f.revokedAt = new Date()
        }),
      revokeAll: (operatorId) =>
        guard(db, "SessionStore.revokeAll", () => {
          for (const f of s.sessions.values())
            if (f.operatorId === operatorId && f.revokedAt === null) f.revokedAt = new Date()
        })
    })
  })
)

export const MembershipStoreMemory = Layer.effect(
  MembershipStore,
  Effect.gen(function* () {
    const db = yield* MemoryDatabase
    const s = stateOf(db)
    const key = (orgId: string, operatorId: string) => `${orgId}:${operatorId}`
    const byCreated = <A extends { createdAt: Date }>(a: A, b: A) => a.createdAt.getTime() - b.createdAt.getTime()
    return MembershipStore.of({
      forOperator: (operatorId) =>
        guard(db, "MembershipStore.forOperator", () =>
          [...s.assignments.values()].filter((a) => a.operatorId === operatorId).sort(byCreated)
        ),
      list: (orgId) =>
        guard(db, "MembershipStore.list", () =>
          [...s.assignments.values()].filter((a) => a.orgId === orgId).sort(byCreated)
        ),
      put: (a) =>
        guard(db, "MembershipStore.put", () => {
          if (!db.orgs.has(a.orgId) || !s.operators.has(a.operatorId)) throw new Error("foreign key violation")
          const existing = s.assignments.get(key(a.orgId, a.operatorId))
          const stored = existing === undefined ? a : { ...existing, role: a.role }
          s.assignments.set(key(a.orgId, a.operatorId), stored as Assignment)
          return stored as Assignment
        }),
      remove: (orgId, operatorId) =>
        guard(db, "MembershipStore.remove", () => s.assignments.delete(key(orgId, operatorId))),
      insertInvitation: (invitation, digest) =>
        guard(db, "MembershipStore.insertInvitation", () => {
          if (!db.orgs.has(invitation.orgId)) throw new Error("foreign key violation")
          for (const row of s.invitations.values()) if (row.digest === digest) throw new Error("unique violation")
          s.invitations.set(invitation.id, { invitation, digest, usedAt: null, revokedAt: null })
          return invitation
        }),
      listInvitations: (orgId, now) =>
        guard(db, "MembershipStore.listInvitations", () =>
          [...s.invitations.values()]
            .filter(
              (r) =>
                r.invitation.orgId === orgId &&
                r.usedAt === null &&
                r.revokedAt === null &&
                r.invitation.expiresAt.getTime() > now.getTime()
            )
            .map((r) => r.invitation)
            .sort(byCreated)
        ),
      revokeInvitation: (orgId, id) =>
        guard(db, "MembershipStore.revokeInvitation", () => {
          const row = s.invitations.get(id)
          if (row === undefined || row.invitation.orgId !== orgId || row.usedAt !== null || row.revokedAt !== null)
            return false
          row.revokedAt = new Date()
          return true
        }),
      consumeInvitation: (digest, now) =>
        guard(db, "MembershipStore.consumeInvitation", () => {
          for (const row of s.invitations.values()) {
            if (row.digest !== digest) continue
            if (row.usedAt !== null || row.revokedAt !== null || row.invitation.expiresAt.getTime() <= now.getTime())
              return Option.none<Invitation>()
            row.usedAt = now
            return Option.some(row.invitation)
          }
          return Option.none<Invitation>()
        })
    })
  })
)

export const AuditTrailMemory = Layer.effect(
  AuditTrail,
  Effect.gen(function* () {
    const db = yield* MemoryDatabase
    const s = stateOf(db)
    return AuditTrail.of({
      append: (e) =>
        guard(db, "AuditTrail.append", () => {
          // Stored frozen: the memory trail is append-only like the table.
          const entry: AuditEntry = Object.freeze({
            ...e,
            detail: Object.freeze({ ...e.detail }),
            id: String(s.audit.length + 1),
            at: new Date()
          })
          s.audit.push(entry)
          return entry
        }),
      list: (q) =>
        guard(db, "AuditTrail.list", () => {
          const before = q.before === null ? Number.POSITIVE_INFINITY : Number(q.before)
          return s.audit
            .filter((e) => (q.orgId === null || e.orgId === q.orgId) && Number(e.id) < before)
            .reverse()
            .slice(0, Math.max(1, Math.floor(q.limit)))
        })
    })
  })
)

/** The four IAM stores over a MemoryDatabase (share it with StoresMemory for org checks). */
export const IamStoresMemory = Layer.mergeAll(
  OperatorStoreMemory,
  SessionStoreMemory,
  MembershipStoreMemory,
  AuditTrailMemory
)
