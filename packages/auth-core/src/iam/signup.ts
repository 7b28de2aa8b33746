import {
  Assignment,
  AuditTrail,
  checkName,
  InvalidCredentials,
  InvalidOrExpiredLink,
  MembershipStore,
  normalizeEmail,
  type OperatorId,
  OperatorStore,
  SecretHasher,
  SecureRandom,
  uuidFromBytes
} from "@ibex/domain"
import { Clock, Effect, Option, type Redacted } from "effect"
import { AttemptLimiter } from "./AttemptLimiter.js"
import { checkNewPassword, hashPassword } from "./passwords.js"
import { digestOf } from "./secrets.js"
import { startSession } from "./sessions.js"

/**
 * Accepts an invitation (sign-up). The invitation is spent first (once, unexpired); its e-mail
 * gets the role. A new e-mail becomes an operator with the given password; an existing operator
 * gets the role and, only if the password is its current one, a session (otherwise
 * InvalidCredentials: the role stays, the operator signs in as usual).
 */
export const acceptInvitation = (input: {
  readonly invitation: Redacted.Redacted<string>
  readonly password: Redacted.Redacted<string>
  readonly displayName: string
  readonly source: string
  readonly requestId: string
}) =>
  Effect.gen(function* () {
    const limiter = yield* AttemptLimiter
    const keys = [{ kind: "source", value: input.source }] as const
    yield* limiter.check(keys)
    yield* checkNewPassword(input.password)
    const displayName = yield* checkName("display_name", input.displayName, 200)
    const now = yield* Clock.currentTimeMillis
    const memberships = yield* MembershipStore
    const invitation = yield* memberships.consumeInvitation(yield* digestOf(input.invitation), new Date(now))
    if (Option.isNone(invitation)) {
      yield* limiter.fail(keys)
      return yield* new InvalidOrExpiredLink()
    }
    const inv = invitation.value
    const operators = yield* OperatorStore
    const existing = yield* operators.findByEmail(normalizeEmail(inv.email))
    let operatorId: OperatorId
    let passwordOk: boolean
    if (Option.isSome(existing)) {
      operatorId = existing.value.operator.id
      const hash = existing.value.passwordHash
      passwordOk =
        hash !== null &&
        existing.value.operator.status === "active" &&
        (yield* (yield* SecretHasher).verify(hash, input.password))
    } else {
      const id = uuidFromBytes(yield* (yield* SecureRandom).bytes(16), 4) as OperatorId
      const created = yield* operators.insert({
        id,
        email: inv.email,
        displayName,
        passwordHash: yield* hashPassword(input.password),
        platformAdmin: false
      })
      if (Option.isNone(created)) return yield* new InvalidOrExpiredLink()
      operatorId = id
      passwordOk = true
    }
    yield* memberships.put(new Assignment({ operatorId, orgId: inv.orgId, role: inv.role, createdAt: new Date(now) }))
    yield* (yield* AuditTrail).append({
      actor: `operator:${operatorId}`,
      action: "invitation.accept",
      target: inv.id,
      orgId: inv.orgId,
      requestId: input.requestId,
      detail: { role: inv.role }
    })
    if (!passwordOk) return yield* new InvalidCredentials()
    return yield* startSession(operatorId)
  }).pipe(Effect.withSpan("OperatorSession.signUp"))
