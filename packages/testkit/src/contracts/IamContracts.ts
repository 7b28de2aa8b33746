import { describe, expect, layer } from "@effect/vitest"
import {
  Assignment,
  AuditTrail,
  Invitation,
  type InvitationId,
  MembershipStore,
  type OperatorId,
  OperatorStore,
  type OrgId,
  type OrgStore,
  type SecureRandom,
  type SessionFamilyId,
  SessionStore,
  uuidFromBytes
} from "@ibex/domain"
import { Effect, type Layer, Option, Redacted } from "effect"
import { createOrg } from "../fixtures/twoOrgs.js"

/** What the IAM store contracts need: the four stores, and the OrgStore fixtures create orgs with. */
export type IamStoreServices = OperatorStore | SessionStore | MembershipStore | AuditTrail | OrgStore | SecureRandom

const id = <A extends string>() => uuidFromBytes(crypto.getRandomValues(new Uint8Array(16)), 4) as A
const digest = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url")
const inMs = (ms: number) => new Date(Date.now() + ms)

const newOperator = (overrides: { email?: string; platformAdmin?: boolean } = {}) =>
  Effect.gen(function* () {
    const opId = id<OperatorId>()
    const created = yield* (yield* OperatorStore).insert({
      id: opId,
      email: overrides.email ?? `op-${opId.slice(0, 8)}@example.com`,
      displayName: "Op",
      passwordHash: "$argon2id$v=19$m=8,t=1,p=1$fake$fake",
      platformAdmin: overrides.platformAdmin ?? false
    })
    return Option.getOrThrow(created)
  })

const newSession = (operatorId: OperatorId) =>
  Effect.gen(function* () {
    const familyId = id<SessionFamilyId>()
    const tokenDigest = digest()
    yield* (yield* SessionStore).create({ familyId, operatorId, tokenDigest, expiresAt: inMs(60_000) })
    return { familyId, tokenDigest }
  })

/**
 * The IAM store contracts (issue 15), written once and run over every adapter (memory,
 * Postgres, PGlite): identities, single-use tokens under concurrency, and the tenant rules of
 * assignments, invitations and the audit trail.
 */
export const iamStoreContracts = <E>(name: string, services: Layer.Layer<IamStoreServices, E>) =>
  layer(services, { excludeTestServices: true, timeout: "60 seconds" })(`IAM store contracts [${name}]`, (it) => {
    describe("OperatorStore", () => {
      it.effect("insert, find by id and by e-mail (case-insensitive); a taken e-mail is None", () =>
        Effect.gen(function* () {
          const store = yield* OperatorStore
          const op = yield* newOperator({ email: `Ada-${id<string>().slice(0, 6)}@Example.com` })
          const byId = Option.getOrThrow(yield* store.find(op.id))
          expect(byId.operator.email).toBe(op.email)
          expect(byId.passwordHash).toMatch(/^\$argon2id/)
          const byEmail = Option.getOrThrow(yield* store.findByEmail(op.email.toUpperCase()))
          expect(byEmail.operator.id).toBe(op.id)
          const again = yield* store.insert({
            id: id<OperatorId>(),
            email: op.email.toLowerCase(),
            displayName: "dup",
            passwordHash: null,
            platformAdmin: false
          })
          expect(Option.isNone(again)).toBe(true)
        })
      )

      it.effect("status, platform flag and password change", () =>
        Effect.gen(function* () {
          const store = yield* OperatorStore
          const op = yield* newOperator()
          expect(Option.getOrThrow(yield* store.setStatus(op.id, "disabled")).status).toBe("disabled")
          expect(Option.getOrThrow(yield* store.setPlatformAdmin(op.id, true)).platformAdmin).toBe(true)
          expect(yield* store.setPassword(op.id, "$argon2id$new")).toBe(true)
          expect(Option.getOrThrow(yield* store.find(op.id)).passwordHash).toBe("$argon2id$new")
          expect(Option.isNone(yield* store.setStatus(id<OperatorId>(), "active"))).toBe(true)
        })
      )

      it.effect("TOTP: pending until confirmed; recovery codes are single use; clearMfa removes all", () =>
        Effect.gen(function* () {
          const store = yield* OperatorStore
          const op = yield* newOperator()
          expect(yield* store.confirmTotp(op.id, [])).toBe(false)
          yield* store.setPendingTotp(op.id, Redacted.make("JBSWY3DPEHPK3PXP"))
          const codes = [digest(), digest()]
          expect(yield* store.confirmTotp(op.id, codes)).toBe(true)
          const creds = Option.getOrThrow(yield* store.find(op.id))
          expect(creds.totpSecret === null ? null : Redacted.value(creds.totpSecret)).toBe("JBSWY3DPEHPK3PXP")
          expect(creds.pendingTotpSecret).toBeNull()
          expect(creds.operator.mfaEnabled).toBe(true)
          const results = yield* Effect.all(
            Array.from({ length: 4 }, () => store.consumeRecoveryCode(op.id, codes[0] as string)),
            { concurrency: "unbounded" }
          )
          expect(results.filter(Boolean)).toHaveLength(1)
          expect(yield* store.consumeRecoveryCode(op.id, digest())).toBe(false)
          // A TOTP step works once, and never an earlier one.
          expect(yield* store.useTotpStep(op.id, 100)).toBe(true)
          expect(yield* store.useTotpStep(op.id, 100)).toBe(false)
          expect(yield* store.useTotpStep(op.id, 99)).toBe(false)
          expect(yield* store.useTotpStep(op.id, 101)).toBe(true)
          yield* store.clearMfa(op.id)
          expect(Option.getOrThrow(yield* store.find(op.id)).totpSecret).toBeNull()
          expect(yield* store.consumeRecoveryCode(op.id, codes[1] as string)).toBe(false)
        })
      )

      it.effect("reset tokens: one use, not after expiry, and one use spends the operator's others", () =>
        Effect.gen(function* () {
          const store = yield* OperatorStore
          const op = yield* newOperator()
          const [a, b, expired] = [digest(), digest(), digest()]
          yield* store.insertResetToken({ digest: a, operatorId: op.id, expiresAt: inMs(60_000) })
          yield* store.insertResetToken({ digest: b, operatorId: op.id, expiresAt: inMs(60_000) })
          yield* store.insertResetToken({ digest: expired, operatorId: op.id, expiresAt: inMs(-1_000) })
          expect(Option.isNone(yield* store.consumeResetToken(expired, new Date()))).toBe(true)
          const results = yield* Effect.all(
            Array.from({ length: 4 }, () => store.consumeResetToken(a, new Date())),
            { concurrency: "unbounded" }
          )
          expect(results.filter(Option.isSome)).toHaveLength(1)
          expect(Option.isNone(yield* store.consumeResetToken(b, new Date()))).toBe(true)
        })
      )
    })

    describe("SessionStore", () => {
      it.effect("rotate spends the token and issues the next; the old one then revokes the family", () =>
        Effect.gen(function* () {
          const store = yield* SessionStore
          const op = yield* newOperator()
          const { familyId, tokenDigest } = yield* newSession(op.id)
          expect(Option.getOrThrow(yield* store.active(familyId, new Date()))).toBe(op.id)
          const next = digest()
          const r1 = yield* store.rotate({
            digest: tokenDigest,
            nextDigest: next,
            now: new Date(),
            expiresAt: inMs(60_000),
            reuseGraceMs: 0
          })
          expect(r1).toEqual({ _tag: "Rotated", familyId, operatorId: op.id })
          const r2 = yield* store.rotate({
            digest: tokenDigest,
            nextDigest: digest(),
            now: new Date(),
            expiresAt: inMs(60_000),
            reuseGraceMs: 0
          })
          expect(r2._tag).toBe("Reused")
          expect(Option.isNone(yield* store.active(familyId, new Date()))).toBe(true)
          const r3 = yield* store.rotate({
            digest: next,
            nextDigest: digest(),
            now: new Date(),
            expiresAt: inMs(60_000),
            reuseGraceMs: 0
          })
          expect(r3._tag).toBe("Invalid")
        })
      )

      it.effect("of concurrent rotations of one token exactly one succeeds", () =>
        Effect.gen(function* () {
          const store = yield* SessionStore
          const op = yield* newOperator()
          const { tokenDigest } = yield* newSession(op.id)
          const results = yield* Effect.all(
            Array.from({ length: 6 }, () =>
              store.rotate({
                digest: tokenDigest,
                nextDigest: digest(),
                now: new Date(),
                expiresAt: inMs(60_000),
                reuseGraceMs: 60_000
              })
            ),
            { concurrency: "unbounded" }
          )
          expect(results.filter((r) => r._tag === "Rotated")).toHaveLength(1)
          // The losers raced (spent within the grace): refused, and the winner's family lives on.
          expect(results.filter((r) => r._tag === "Raced")).toHaveLength(5)
          const won = results.find((r) => r._tag === "Rotated")
          if (won?._tag === "Rotated") expect(Option.isSome(yield* store.active(won.familyId, new Date()))).toBe(true)
        })
      )

      it.effect("unknown and expired tokens are Invalid; revokeAll ends every family of the operator", () =>
        Effect.gen(function* () {
          const store = yield* SessionStore
          const op = yield* newOperator()
          const unknown = yield* store.rotate({
            digest: digest(),
            nextDigest: digest(),
            now: new Date(),
            expiresAt: inMs(1),
            reuseGraceMs: 0
          })
          expect(unknown._tag).toBe("Invalid")
          const s1 = yield* newSession(op.id)
          const s2 = yield* newSession(op.id)
          const later = inMs(120_000)
          const expired = yield* store.rotate({
            digest: s1.tokenDigest,
            nextDigest: digest(),
            now: later,
            expiresAt: inMs(200_000),
            reuseGraceMs: 0
          })
          expect(expired._tag).toBe("Invalid")
          yield* store.revokeAll(op.id)
          expect(Option.isNone(yield* store.active(s1.familyId, new Date()))).toBe(true)
          expect(Option.isNone(yield* store.active(s2.familyId, new Date()))).toBe(true)
          const afterRevoke = yield* store.rotate({
            digest: s2.tokenDigest,
            nextDigest: digest(),
            now: new Date(),
            expiresAt: inMs(1),
            reuseGraceMs: 0
          })
          expect(afterRevoke._tag).toBe("Invalid")
        })
      )
    })

    describe("MembershipStore", () => {
      it.effect("assignments: put replaces the role; list is the org's only; forOperator spans orgs", () =>
        Effect.gen(function* () {
          const store = yield* MembershipStore
          const orgA = yield* createOrg()
          const orgB = yield* createOrg()
          const op = yield* newOperator()
          const other = yield* newOperator()
          yield* store.put(new Assignment({ operatorId: op.id, orgId: orgA.id, role: "viewer", createdAt: new Date() }))
          const replaced = yield* store.put(
            new Assignment({ operatorId: op.id, orgId: orgA.id, role: "org_admin", createdAt: new Date() })
          )
          expect(replaced.role).toBe("org_admin")
          yield* store.put(new Assignment({ operatorId: op.id, orgId: orgB.id, role: "member", createdAt: new Date() }))
          yield* store.put(
            new Assignment({ operatorId: other.id, orgId: orgB.id, role: "viewer", createdAt: new Date() })
          )
          const inA = yield* store.list(orgA.id)
          expect(inA.map((a) => [a.operatorId, a.role])).toEqual([[op.id, "org_admin"]])
          const mine = yield* store.forOperator(op.id)
          expect(new Map(mine.map((a) => [a.orgId, a.role]))).toEqual(
            new Map<OrgId, string>([
              [orgA.id, "org_admin"],
              [orgB.id, "member"]
            ])
          )
          // Another org's assignment cannot be removed through this org.
          expect(yield* store.remove(orgA.id, other.id)).toBe(false)
          expect(yield* store.remove(orgB.id, other.id)).toBe(true)
          expect((yield* store.list(orgB.id)).map((a) => a.operatorId)).toEqual([op.id])
        })
      )

      it.effect("invitations: listed in their org only, revocable only there, consumed once, not after expiry", () =>
        Effect.gen(function* () {
          const store = yield* MembershipStore
          const orgA = yield* createOrg()
          const orgB = yield* createOrg()
          const invite = (orgId: OrgId, expiresAt: Date) =>
            new Invitation({
              id: id<InvitationId>(),
              orgId,
              email: "new@example.com",
              role: "member",
              invitedBy: null,
              createdAt: new Date(),
              expiresAt
            })
          const a = invite(orgA.id, inMs(60_000))
          const aDigest = digest()
          yield* store.insertInvitation(a, aDigest)
          const expiredDigest = digest()
          yield* store.insertInvitation(invite(orgA.id, inMs(-1_000)), expiredDigest)
          expect((yield* store.listInvitations(orgA.id, new Date())).map((i) => i.id)).toEqual([a.id])
          expect(yield* store.listInvitations(orgB.id, new Date())).toEqual([])
          expect(yield* store.revokeInvitation(orgB.id, a.id)).toBe(false)
          const results = yield* Effect.all(
            Array.from({ length: 4 }, () => store.consumeInvitation(aDigest, new Date())),
            { concurrency: "unbounded" }
          )
          const won = results.filter(Option.isSome)
          expect(won).toHaveLength(1)
          expect(Option.getOrThrow(won[0] as Option.Option<Invitation>).orgId).toBe(orgA.id)
          expect(Option.isNone(yield* store.consumeInvitation(expiredDigest, new Date()))).toBe(true)
          const b = invite(orgB.id, inMs(60_000))
          const bDigest = digest()
          yield* store.insertInvitation(b, bDigest)
          expect(yield* store.revokeInvitation(orgB.id, b.id)).toBe(true)
          expect(Option.isNone(yield* store.consumeInvitation(bDigest, new Date()))).toBe(true)
        })
      )
    })

    describe("AuditTrail", () => {
      it.effect("append then list newest first; an org's list holds only its entries; platform list holds all", () =>
        Effect.gen(function* () {
          const trail = yield* AuditTrail
          const orgA = yield* createOrg()
          const orgB = yield* createOrg()
          const e1 = yield* trail.append({
            actor: "system",
            action: "org.create",
            target: orgA.id,
            orgId: orgA.id,
            requestId: "r1",
            detail: { name: "a" }
          })
          const e2 = yield* trail.append({
            actor: "system",
            action: "org.create",
            target: orgB.id,
            orgId: orgB.id,
            requestId: "r2",
            detail: {}
          })
          const e3 = yield* trail.append({
            actor: "system",
            action: "agent.pause",
            target: null,
            orgId: orgA.id,
            requestId: "r3",
            detail: { n: 1, b: true }
          })
          const p = yield* trail.append({
            actor: "system",
            action: "operator.bootstrap",
            target: null,
            orgId: null,
            requestId: "r4",
            detail: {}
          })
          const inA = yield* trail.list({ orgId: orgA.id, limit: 10, before: null })
          expect(inA.map((e) => e.id)).toEqual([e3.id, e1.id])
          expect(inA[0]?.detail).toEqual({ n: 1, b: true })
          expect(inA[0]?.requestId).toBe("r3")
          const page = yield* trail.list({ orgId: orgA.id, limit: 10, before: e3.id })
          expect(page.map((e) => e.id)).toEqual([e1.id])
          const all = yield* trail.list({ orgId: null, limit: 1000, before: null })
          const ids = all.map((e) => e.id)
          for (const e of [p, e3, e2, e1]) expect(ids).toContain(e.id)
          expect(ids.indexOf(p.id)).toBeLessThan(ids.indexOf(e1.id))
        })
      )
    })
  })
