import {
  AccessTokenSigner,
  InvalidCredentials,
  InvalidMfaCode,
  InvalidRefreshToken,
  isTotpCode,
  normalizeEmail,
  type OperatorCredentials,
  type OperatorId,
  OperatorStore,
  SecretHasher,
  SecureRandom,
  type SessionFamilyId,
  SessionStore,
  type StoreUnavailable,
  type TokenDigest,
  type TooManyAttempts,
  uuidFromBytes
} from "@ibex/domain"
import { Clock, Effect, Option, Redacted } from "effect"
import { type AttemptKey, AttemptLimiter } from "./AttemptLimiter.js"
import { IamConfig } from "./IamConfig.js"
import { matchTotpStep } from "./mfa.js"
import { digestOf, newSecret, REFRESH_PREFIX, randomText } from "./secrets.js"

/** What a sign-in, MFA verification, refresh or sign-up hands the edge: it goes into cookies. */
export interface IssuedSession {
  readonly operatorId: OperatorId
  readonly familyId: SessionFamilyId
  readonly access: Redacted.Redacted<string>
  readonly refresh: Redacted.Redacted<string>
  readonly csrf: string
  readonly accessExpiresAt: Date
  readonly refreshExpiresAt: Date
}

export type SignInResult =
  | { readonly _tag: "SignedIn"; readonly session: IssuedSession }
  | { readonly _tag: "MfaRequired"; readonly challenge: Redacted.Redacted<string>; readonly expiresInMs: number }

const accessFor = (operatorId: OperatorId, familyId: SessionFamilyId) =>
  Effect.gen(function* () {
    const config = yield* IamConfig
    const now = yield* Clock.currentTimeMillis
    const csrf = yield* randomText(32)
    const exp = now + config.accessTtlMs
    const access = yield* (yield* AccessTokenSigner).sign({ typ: "access", sub: operatorId, sid: familyId, csrf, exp })
    return { access, csrf, accessExpiresAt: new Date(exp) }
  })

/** Starts a session family: an access token, a refresh token (its digest stored), a CSRF token. */
export const startSession = (operatorId: OperatorId) =>
  Effect.gen(function* () {
    const config = yield* IamConfig
    const now = yield* Clock.currentTimeMillis
    const random = yield* SecureRandom
    const familyId = uuidFromBytes(yield* random.bytes(16), 4) as SessionFamilyId
    const refresh = yield* newSecret(REFRESH_PREFIX)
    const refreshExpiresAt = new Date(now + config.refreshTtlMs)
    yield* (yield* SessionStore).create({
      familyId,
      operatorId,
      tokenDigest: refresh.digest,
      expiresAt: refreshExpiresAt
    })
    const access = yield* accessFor(operatorId, familyId)
    return { operatorId, familyId, refresh: refresh.value, refreshExpiresAt, ...access } satisfies IssuedSession
  }).pipe(Effect.withSpan("OperatorSession.start"))

// A well-formed Argon2id hash of a random secret: verifying against it costs what a real check
// costs, so an unknown e-mail answers in the same time as a wrong password.
let dummyHash: string | undefined
const timingDummy = Effect.gen(function* () {
  if (dummyHash === undefined) dummyHash = yield* (yield* SecretHasher).hash(Redacted.make(yield* randomText(24)))
  return dummyHash
})

export const attemptKeys = (email: string, source: string): ReadonlyArray<AttemptKey> => [
  { kind: "account", value: normalizeEmail(email) },
  { kind: "source", value: source }
]

/** Checks an operator's password (Argon2id); unknown e-mails cost the same. None on any failure. */
export const checkPassword = (email: string, password: Redacted.Redacted<string>) =>
  Effect.gen(function* () {
    const hasher = yield* SecretHasher
    const found = yield* (yield* OperatorStore).findByEmail(normalizeEmail(email))
    const hash =
      Option.isSome(found) && found.value.passwordHash !== null ? found.value.passwordHash : yield* timingDummy
    const ok = yield* hasher.verify(hash, password)
    return ok && Option.isSome(found) && found.value.passwordHash !== null && found.value.operator.status === "active"
      ? Option.some(found.value)
      : Option.none<OperatorCredentials>()
  })

/**
 * Sign-in with e-mail and password. Failures are one answer (InvalidCredentials) and count
 * against the account and the source address; over the limit, TooManyAttempts before any check.
 * With TOTP enrolled, the answer is a short-lived challenge for `verifyMfa`.
 */
export const signIn = (input: {
  readonly email: string
  readonly password: Redacted.Redacted<string>
  readonly source: string
}): Effect.Effect<
  SignInResult,
  InvalidCredentials | TooManyAttempts | StoreUnavailable,
  OperatorStore | SessionStore | SecretHasher | SecureRandom | TokenDigest | AccessTokenSigner | AttemptLimiter
> =>
  Effect.gen(function* () {
    const limiter = yield* AttemptLimiter
    const keys = attemptKeys(input.email, input.source)
    yield* limiter.check(keys)
    const found = yield* checkPassword(input.email, input.password)
    if (Option.isNone(found)) {
      yield* limiter.fail(keys)
      return yield* new InvalidCredentials()
    }
    const keysOk = keys[0]
    if (keysOk !== undefined) yield* limiter.clear(keysOk)
    const operator = found.value.operator
    if (found.value.totpSecret !== null) {
      const config = yield* IamConfig
      const now = yield* Clock.currentTimeMillis
      const challenge = yield* (yield* AccessTokenSigner).sign({
        typ: "mfa",
        sub: operator.id,
        sid: null,
        csrf: null,
        exp: now + config.mfaChallengeTtlMs
      })
      return { _tag: "MfaRequired", challenge, expiresInMs: config.mfaChallengeTtlMs } as const
    }
    return { _tag: "SignedIn", session: yield* startSession(operator.id) } as const
  }).pipe(Effect.withSpan("OperatorSession.signIn"))

/** The second factor of a sign-in: a TOTP code or one unused recovery code. */
export const verifyMfa = (input: {
  readonly challenge: Redacted.Redacted<string>
  readonly code: Redacted.Redacted<string> | null
  readonly recoveryCode: Redacted.Redacted<string> | null
  readonly source: string
}) =>
  Effect.gen(function* () {
    const limiter = yield* AttemptLimiter
    const now = yield* Clock.currentTimeMillis
    const claims = yield* (yield* AccessTokenSigner).verify(input.challenge, now)
    if (Option.isNone(claims) || claims.value.typ !== "mfa") return yield* new InvalidMfaCode()
    const operatorId = claims.value.sub
    const keys: ReadonlyArray<AttemptKey> = [
      { kind: "account", value: `operator:${operatorId}` },
      { kind: "source", value: input.source }
    ]
    yield* limiter.check(keys)
    const store = yield* OperatorStore
    const found = yield* store.find(operatorId)
    if (Option.isNone(found) || found.value.operator.status !== "active" || found.value.totpSecret === null)
      return yield* new InvalidMfaCode()
    let ok = false
    if (input.code !== null) {
      const code = Redacted.value(input.code).trim()
      // Each code works once: its step must be later than any step a sign-in used before.
      const step = isTotpCode(code) ? yield* matchTotpStep(found.value.totpSecret, code) : null
      ok = step !== null && (yield* store.useTotpStep(operatorId, step))
    } else if (input.recoveryCode !== null) {
      const digest = yield* digestOf(Redacted.make(normalizeRecoveryCode(Redacted.value(input.recoveryCode))))
      ok = yield* store.consumeRecoveryCode(operatorId, digest)
    }
    if (!ok) {
      yield* limiter.fail(keys)
      return yield* new InvalidMfaCode()
    }
    return yield* startSession(operatorId)
  }).pipe(Effect.withSpan("OperatorSession.verifyMfa"))

export const normalizeRecoveryCode = (code: string): string =>
  code
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]/g, "")

/**
 * Rotates a refresh token: the old one is spent (one atomic conditional UPDATE, so of concurrent
 * uses exactly one wins) and a new one issued in the same family. A spent token used again
 * revokes its whole family.
 */
export const refreshSession = (refresh: Redacted.Redacted<string>) =>
  Effect.gen(function* () {
    const config = yield* IamConfig
    const now = yield* Clock.currentTimeMillis
    if (!Redacted.value(refresh).startsWith(REFRESH_PREFIX)) return yield* new InvalidRefreshToken({ reused: false })
    const digest = yield* digestOf(refresh)
    const next = yield* newSecret(REFRESH_PREFIX)
    const refreshExpiresAt = new Date(now + config.refreshTtlMs)
    const result = yield* (yield* SessionStore).rotate({
      digest,
      nextDigest: next.digest,
      now: new Date(now),
      expiresAt: refreshExpiresAt,
      reuseGraceMs: config.refreshReuseGraceMs
    })
    if (result._tag === "Reused") {
      yield* Effect.logWarning({ event: "refresh_token_reused", family_id: result.familyId })
      return yield* new InvalidRefreshToken({ reused: true })
    }
    if (result._tag === "Invalid" || result._tag === "Raced") return yield* new InvalidRefreshToken({ reused: false })
    const found = yield* (yield* OperatorStore).find(result.operatorId)
    if (Option.isNone(found) || found.value.operator.status !== "active") {
      yield* (yield* SessionStore).revokeFamily(result.familyId)
      return yield* new InvalidRefreshToken({ reused: false })
    }
    const access = yield* accessFor(result.operatorId, result.familyId)
    return {
      operatorId: result.operatorId,
      familyId: result.familyId,
      refresh: next.value,
      refreshExpiresAt,
      ...access
    } satisfies IssuedSession
  }).pipe(Effect.withSpan("OperatorSession.refresh"))

/** Ends a session family (sign-out): its refresh tokens and access tokens stop working at once. */
export const signOut = (familyId: SessionFamilyId) =>
  Effect.flatMap(SessionStore, (s) => s.revokeFamily(familyId)).pipe(Effect.withSpan("OperatorSession.signOut"))
