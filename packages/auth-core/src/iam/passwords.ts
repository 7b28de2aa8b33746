import {
  FieldError,
  InvalidCredentials,
  InvalidOrExpiredLink,
  MAX_PASSWORD_LENGTH,
  Mailer,
  MIN_PASSWORD_LENGTH,
  normalizeEmail,
  type OperatorId,
  OperatorStore,
  SecretHasher,
  SessionStore,
  ValidationFailed
} from "@ibex/domain"
import { Clock, Effect, Option, Redacted } from "effect"
import { AttemptLimiter } from "./AttemptLimiter.js"
import { IamConfig } from "./IamConfig.js"
import { digestOf, newSecret, RESET_PREFIX } from "./secrets.js"
import { attemptKeys } from "./sessions.js"

/** The password rule: 12 to 256 characters (NIST 800-63B: length, no composition rules). */
export const checkNewPassword = (password: Redacted.Redacted<string>, field = "password") => {
  const n = [...Redacted.value(password)].length
  return n >= MIN_PASSWORD_LENGTH && n <= MAX_PASSWORD_LENGTH
    ? Effect.void
    : Effect.fail(
        new ValidationFailed({
          fieldErrors: [
            new FieldError({ field, message: `must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters` })
          ]
        })
      )
}

export const hashPassword = (password: Redacted.Redacted<string>) =>
  Effect.flatMap(SecretHasher, (h) => h.hash(password)).pipe(Effect.withSpan("OperatorPassword.hash"))

/**
 * "Forgot password": always the same answer. When the e-mail is an active operator's, a one-time
 * reset link (30 min) is mailed; the mail goes out in the background so the answer's timing does
 * not tell either. Each call counts as an attempt (per account and source).
 */
export const forgotPassword = (input: { readonly email: string; readonly source: string }) =>
  Effect.gen(function* () {
    const limiter = yield* AttemptLimiter
    const keys = attemptKeys(input.email, input.source)
    yield* limiter.check(keys)
    yield* limiter.fail(keys)
    const config = yield* IamConfig
    const found = yield* (yield* OperatorStore).findByEmail(normalizeEmail(input.email))
    if (Option.isNone(found) || found.value.operator.status !== "active") return
    const operator = found.value.operator
    const token = yield* newSecret(RESET_PREFIX)
    const now = yield* Clock.currentTimeMillis
    yield* (yield* OperatorStore).insertResetToken({
      digest: token.digest,
      operatorId: operator.id,
      expiresAt: new Date(now + config.resetTtlMs)
    })
    const link = Redacted.make(`${config.consoleUrl}#/reset?token=${Redacted.value(token.value)}`)
    const mailer = yield* Mailer
    yield* Effect.forkDaemon(
      mailer.send({
        to: operator.email,
        kind: "reset",
        subject: "Reset your IBEX password",
        link,
        text: `Someone asked to reset the password of this IBEX account. The link works once, for ${Math.round(config.resetTtlMs / 60_000)} minutes.`
      })
    )
  }).pipe(Effect.withSpan("OperatorPassword.forgot"))

/** Spends a reset token (once, unexpired), sets the new password and ends every session of the operator. */
export const resetPassword = (input: {
  readonly token: Redacted.Redacted<string>
  readonly password: Redacted.Redacted<string>
  readonly source: string
}) =>
  Effect.gen(function* () {
    const limiter = yield* AttemptLimiter
    const keys = [{ kind: "source", value: input.source }] as const
    yield* limiter.check(keys)
    yield* checkNewPassword(input.password)
    const now = yield* Clock.currentTimeMillis
    const digest = yield* digestOf(input.token)
    const store = yield* OperatorStore
    const operatorId = yield* store.consumeResetToken(digest, new Date(now))
    if (Option.isNone(operatorId)) {
      yield* limiter.fail(keys)
      return yield* new InvalidOrExpiredLink()
    }
    yield* store.setPassword(operatorId.value, yield* hashPassword(input.password))
    yield* (yield* SessionStore).revokeAll(operatorId.value)
    return operatorId.value
  }).pipe(Effect.withSpan("OperatorPassword.reset"))

/** A signed-in operator changes its password, proving the current one; every session ends. */
export const changePassword = (
  operatorId: OperatorId,
  current: Redacted.Redacted<string>,
  next: Redacted.Redacted<string>
) =>
  Effect.gen(function* () {
    yield* checkNewPassword(next, "new_password")
    const store = yield* OperatorStore
    const found = yield* store.find(operatorId)
    if (Option.isNone(found) || found.value.passwordHash === null) return yield* new InvalidCredentials()
    if (!(yield* (yield* SecretHasher).verify(found.value.passwordHash, current)))
      return yield* new InvalidCredentials()
    yield* store.setPassword(operatorId, yield* hashPassword(next))
    yield* (yield* SessionStore).revokeAll(operatorId)
  }).pipe(Effect.withSpan("OperatorPassword.change"))
