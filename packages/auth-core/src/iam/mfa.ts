import {
  base32Encode,
  Conflict,
  InvalidMfaCode,
  isTotpCode,
  type OperatorId,
  OperatorStore,
  otpauthUri,
  ResourceNotFound,
  SecureRandom,
  TOTP_WINDOW,
  TotpAlgorithm,
  totpCounter
} from "@ibex/domain"
import { Clock, Effect, Option, Redacted } from "effect"
import { digestOf } from "./secrets.js"

export const RECOVERY_CODE_COUNT = 10
const ISSUER = "IBEX"

/** RFC 6238: the step whose code this is (the current 30 s step, or one either side for clock skew), or null. */
export const matchTotpStep = (secret: Redacted.Redacted<string>, code: string) =>
  Effect.gen(function* () {
    if (!isTotpCode(code)) return null
    const totp = yield* TotpAlgorithm
    const counter = totpCounter(yield* Clock.currentTimeMillis)
    let step: number | null = null
    // Every candidate is computed and compared (no early exit on a match).
    for (let d = -TOTP_WINDOW; d <= TOTP_WINDOW; d++) if (totp.code(secret, counter + d) === code) step = counter + d
    return step
  })

export const verifyTotp = (secret: Redacted.Redacted<string>, code: string) =>
  Effect.map(matchTotpStep(secret, code), (step) => step !== null)

/** Starts a TOTP enrollment: a new secret, pending until confirmed with a valid code. */
export const enrollTotp = (operatorId: OperatorId) =>
  Effect.gen(function* () {
    const store = yield* OperatorStore
    const found = yield* store.find(operatorId)
    if (Option.isNone(found)) return yield* new ResourceNotFound({ resource: "operator" })
    if (found.value.totpSecret !== null) return yield* new Conflict({ what: "mfa_enabled" })
    const secret = base32Encode(yield* (yield* SecureRandom).bytes(20))
    yield* store.setPendingTotp(operatorId, Redacted.make(secret))
    return {
      secret: Redacted.make(secret),
      otpauthUri: Redacted.make(otpauthUri(ISSUER, found.value.operator.email, secret))
    }
  }).pipe(Effect.withSpan("OperatorMfa.enroll"))

const recoveryCode = Effect.gen(function* () {
  const bytes = yield* (yield* SecureRandom).bytes(8)
  const text = base32Encode(bytes).toLowerCase().slice(0, 12)
  return `${text.slice(0, 4)}-${text.slice(4, 8)}-${text.slice(8, 12)}`
})

/** Confirms the pending enrollment with a valid code; answers the recovery codes, once. */
export const confirmTotp = (operatorId: OperatorId, code: string) =>
  Effect.gen(function* () {
    const store = yield* OperatorStore
    const found = yield* store.find(operatorId)
    if (Option.isNone(found) || found.value.pendingTotpSecret === null) return yield* new InvalidMfaCode()
    if (!(yield* verifyTotp(found.value.pendingTotpSecret, code.trim()))) return yield* new InvalidMfaCode()
    const codes: Array<string> = []
    const digests: Array<string> = []
    for (let i = 0; i < RECOVERY_CODE_COUNT; i++) {
      const c = yield* recoveryCode
      codes.push(c)
      digests.push(yield* digestOf(Redacted.make(c.replace(/-/g, ""))))
    }
    yield* store.confirmTotp(operatorId, digests)
    return codes.map((c) => Redacted.make(c))
  }).pipe(Effect.withSpan("OperatorMfa.confirm"))

/** Turns MFA off, proven by a current code. */
export const disableTotp = (operatorId: OperatorId, code: string) =>
  Effect.gen(function* () {
    const store = yield* OperatorStore
    const found = yield* store.find(operatorId)
    if (Option.isNone(found) || found.value.totpSecret === null) return yield* new InvalidMfaCode()
    if (!(yield* verifyTotp(found.value.totpSecret, code.trim()))) return yield* new InvalidMfaCode()
    yield* store.clearMfa(operatorId)
  }).pipe(Effect.withSpan("OperatorMfa.disable"))
