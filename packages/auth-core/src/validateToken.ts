import {
  checkTokenUsable,
  InvalidToken,
  type ParsedPat,
  type Principal,
  parsePat,
  SecretHasher,
  type StoreUnavailable,
  type TokenCredential,
  TokenStore
} from "@ibex/domain"
import { Clock, Effect, Either, Option, Redacted } from "effect"

/**
 * Token validation without any cache: parse → pre-tenant lookup → Argon2id → validity rules.
 * Malformed tokens and unknown ids fail before any hashing. Every failure is InvalidToken;
 * its `reason` is for metrics and never reaches a client.
 */
/** The pre-tenant read for an already-parsed PAT: unknown ids fail before any hashing. */
export const findCredential = (
  parsed: ParsedPat
): Effect.Effect<
  { readonly parsed: ParsedPat; readonly credential: TokenCredential },
  InvalidToken | StoreUnavailable,
  TokenStore
> =>
  Effect.gen(function* () {
    const store = yield* TokenStore
    const credential = yield* store.findCredential(parsed.tokenId)
    // A literal reason: the constructor's schema check is skipped (a flood of unknown ids pays it per id).
    if (Option.isNone(credential)) return yield* new InvalidToken({ reason: "unknown" }, { disableValidation: true })
    return { parsed, credential: credential.value }
  })

export const lookupCredential = (
  token: Redacted.Redacted<string>
): Effect.Effect<
  { readonly parsed: ParsedPat; readonly credential: TokenCredential },
  InvalidToken | StoreUnavailable,
  TokenStore
> => {
  const parsed = parsePat(Redacted.value(token))
  return Either.isLeft(parsed) ? Effect.fail(new InvalidToken({ reason: "malformed" })) : findCredential(parsed.right)
}

export const verifyCredential = (
  credential: TokenCredential,
  secret: Redacted.Redacted<string>
): Effect.Effect<Principal, InvalidToken, SecretHasher> =>
  Effect.gen(function* () {
    const hasher = yield* SecretHasher
    const ok = yield* hasher.verify(credential.secretHash, secret)
    if (!ok) return yield* new InvalidToken({ reason: "wrong_secret" })
    const now = new Date(yield* Clock.currentTimeMillis)
    return yield* checkTokenUsable(credential, now)
  })

export const validateToken = (
  token: Redacted.Redacted<string>
): Effect.Effect<Principal, InvalidToken | StoreUnavailable, TokenStore | SecretHasher> =>
  Effect.flatMap(lookupCredential(token), ({ parsed, credential }) => verifyCredential(credential, parsed.secret))
