import {
  checkTokenUsable,
  InvalidToken,
  type InvalidTokenReason,
  type OrgId,
  type ParsedPat,
  type Principal,
  parsePat,
  RevocationFeed,
  SecretHasher,
  type StoreUnavailable,
  TokenDigest,
  type TokenId,
  TokenStore
} from "@ibex/domain"
import {
  Clock,
  Context,
  Deferred,
  Duration,
  Effect,
  Either,
  Layer,
  Metric,
  MetricBoundaries,
  Redacted,
  Stream
} from "effect"
import { findCredential } from "./validateToken.js"

export interface TokenValidatorShape {
  readonly validate: (token: Redacted.Redacted<string>) => Effect.Effect<Principal, InvalidToken | StoreUnavailable>
  /**
   * The token was revoked: drops every cached verdict for it and refuses its id from now on, here
   * and now (the revoking instance does not wait for its own notice).
   */
  readonly evict: (tokenId: TokenId) => Effect.Effect<void>
  readonly stats: Effect.Effect<{
    readonly entries: number
    readonly negativeEntries: number
    readonly trusted: boolean
  }>
}

export class TokenValidator extends Context.Tag("@ibex/domain/TokenValidator")<TokenValidator, TokenValidatorShape>() {}

export interface TokenValidatorOptions {
  /** Hard backstop on how long a verified token is trusted without a fresh check. */
  readonly ttlMs: number
  readonly maxEntries: number
  /** How long a failed (token id, digest) pair is refused without hashing. */
  readonly negativeTtlMs: number
  readonly maxNegativeEntries: number
  /** Failed Argon2id verifications per token id per window before further guesses are refused unhashed. */
  readonly maxFailuresPerToken: number
  readonly failureWindowMs: number
  /** Argon2id verifications allowed to run at once (the hasher's thread pool is the scarce resource). */
  readonly hashConcurrency: number
}

export const defaultTokenValidatorOptions: TokenValidatorOptions = {
  ttlMs: 5_000,
  maxEntries: 10_000,
  negativeTtlMs: 5_000,
  maxNegativeEntries: 10_000,
  maxFailuresPerToken: 5,
  failureWindowMs: 10_000,
  hashConcurrency: 2
}

export type ValidationOutcome =
  | "cache_hit"
  | "verified"
  | InvalidTokenReason
  | "negative_cache"
  | "throttled"
  | "store_unavailable"

export const validationOutcomes = Metric.counter("ibex_auth_validation_total", {
  description: "Token validations by outcome"
})
export const validationLatency = Metric.histogram(
  "ibex_auth_validation_duration_seconds",
  MetricBoundaries.fromIterable([0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]),
  "Token validation latency"
)

interface Entry {
  readonly principal: Principal
  readonly expiresAtMs: number
}

/** A bounded insertion-ordered map: the oldest key goes first when full. */
const boundedSet = <K, V>(map: Map<K, V>, max: number, key: K, value: V) => {
  map.delete(key)
  if (map.size >= max) {
    const oldest = map.keys().next().value
    if (oldest !== undefined) map.delete(oldest)
  }
  map.set(key, value)
}

// Counters by outcome, tagged once (tagging per call allocates a new metric key on the hot path).
const outcomeCounters = new Map<ValidationOutcome, Metric.Metric.Counter<number>>()
const countOutcome = (outcome: ValidationOutcome) => {
  let counter = outcomeCounters.get(outcome)
  if (counter === undefined) {
    counter = Metric.tagged(validationOutcomes, "outcome", outcome)
    outcomeCounters.set(outcome, counter)
  }
  return Metric.increment(counter)
}

/**
 * Why this exists (DESIGN.md, "Argon2id cost"): Argon2id costs 36–250 ms here and the budget is
 * 50 ms, so a token is verified with Argon2id once, then trusted by a keyed digest of the whole
 * token for at most `ttlMs`. Revocations arrive by push (RevocationFeed) and evict at once; while
 * the feed is disconnected nothing is cached, so a lost notice can never keep a revoked token alive.
 *
 * Past the TTL a token is checked against the database again, but Argon2id does not run again:
 * while the feed is trusted, the validator remembers which stored hash each digest was verified
 * against, and a fresh row with that same hash needs only the validity rules (revoked, expired,
 * org status). Token ids learnt as revoked (the feed, or `evict` on the revoking instance) are
 * refused before the database lookup: a revocation is final.
 */
export const makeTokenValidator = (options: TokenValidatorOptions = defaultTokenValidatorOptions) =>
  Effect.gen(function* () {
    const store = yield* TokenStore
    const hasher = yield* SecretHasher
    const digester = yield* TokenDigest
    const feed = yield* RevocationFeed

    const positive = new Map<string, Entry>()
    const byToken = new Map<TokenId, Set<string>>()
    const negative = new Map<string, number>()
    const failures = new Map<TokenId, { count: number; windowStartMs: number }>()
    /** digest → the stored hash it was verified against with Argon2id (used only while trusted). */
    const verifiedHash = new Map<string, string>()
    // Digests of tokens whose secret Argon2id has accepted. They exempt their holder from the
    // per-token-id throttle: the token id is not secret (it is in the token and in ListTokens),
    // so without this anyone could keep a real holder locked out by guessing secrets for its id.
    // Only possession is remembered; validity is still read from the store every time. Kept
    // across feed drops, because possession of a secret does not change with the feed.
    const provenDigests = new Map<string, true>()
    /** Token ids known to be revoked; no TTL (revocation is final), bounded. */
    const revokedIds = new Map<TokenId, true>()
    let trusted = false
    // Bumped on every revocation or feed drop: a verification that started before a bump must not be cached.
    let epoch = 0
    const hashPermits = yield* Effect.makeSemaphore(options.hashConcurrency)

    const forgetToken = (tokenId: TokenId) => {
      const digests = byToken.get(tokenId)
      if (digests) for (const d of digests) positive.delete(d)
      byToken.delete(tokenId)
    }
    const forgetOrg = (orgId: OrgId) => {
      for (const [digest, entry] of positive)
        if (entry.principal.orgId === orgId) {
          positive.delete(digest)
          byToken.delete(entry.principal.tokenId)
        }
    }
    // A changed or deleted row may carry another hash: never skip Argon2id on the old memo.
    const verifiedHashFor = (_tokenId: TokenId) => verifiedHash.clear()
    const clearAll = () => {
      positive.clear()
      byToken.clear()
      verifiedHash.clear()
    }
    const markRevoked = (tokenId: TokenId) => {
      forgetToken(tokenId)
      boundedSet(revokedIds, options.maxNegativeEntries, tokenId, true)
    }

    yield* feed.subscribe.pipe(
      Stream.runForEach((event) =>
        Effect.sync(() => {
          // Agent changes concern the AgentVerifier, not token verdicts.
          if (event._tag === "AgentChanged") return
          epoch++
          switch (event._tag) {
            case "Revoked":
              markRevoked(event.tokenId)
              break
            case "TokenChanged":
              forgetToken(event.tokenId)
              verifiedHashFor(event.tokenId)
              break
            case "OrgChanged":
              forgetOrg(event.orgId)
              break
            case "Disconnected":
              trusted = false
              clearAll()
              break
            case "Connected":
              clearAll()
              trusted = true
              break
          }
        })
      ),
      Effect.forkScoped
    )

    const remember = (digest: string, principal: Principal, nowMs: number) => {
      const tokenExpiry = principal.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY
      positive.delete(digest)
      if (positive.size >= options.maxEntries) {
        const oldest = positive.keys().next().value
        if (oldest !== undefined) {
          const old = positive.get(oldest)
          positive.delete(oldest)
          if (old) byToken.get(old.principal.tokenId)?.delete(oldest)
        }
      }
      positive.set(digest, { principal, expiresAtMs: Math.min(nowMs + options.ttlMs, tokenExpiry) })
      let set = byToken.get(principal.tokenId)
      if (!set) {
        set = new Set()
        byToken.set(principal.tokenId, set)
      }
      set.add(digest)
    }

    const rememberFailure = (digest: string, nowMs: number) => {
      if (negative.size >= options.maxNegativeEntries) {
        const oldest = negative.keys().next().value
        if (oldest !== undefined) negative.delete(oldest)
      }
      negative.set(digest, nowMs + options.negativeTtlMs)
    }

    const throttled = (tokenId: TokenId, nowMs: number): boolean => {
      const f = failures.get(tokenId)
      return (
        f !== undefined && nowMs - f.windowStartMs < options.failureWindowMs && f.count >= options.maxFailuresPerToken
      )
    }
    const countFailure = (tokenId: TokenId, nowMs: number) => {
      const f = failures.get(tokenId)
      if (f === undefined || nowMs - f.windowStartMs >= options.failureWindowMs) {
        if (failures.size >= options.maxNegativeEntries) failures.clear()
        failures.set(tokenId, { count: 1, windowStartMs: nowMs })
      } else f.count++
    }

    const fail = (outcome: ValidationOutcome, reason: InvalidTokenReason) =>
      Effect.zipRight(countOutcome(outcome), Effect.fail(new InvalidToken({ reason })))

    const inflight = new Map<string, Deferred.Deferred<Principal, InvalidToken | StoreUnavailable>>()

    const verifyCold = (claimed: ParsedPat, digest: string, nowMs: number) =>
      Effect.gen(function* () {
        const startEpoch = epoch
        const { parsed, credential } = yield* findCredential(claimed).pipe(
          Effect.provideService(TokenStore, store),
          Effect.tapError((e) => countOutcome(e._tag === "InvalidToken" ? e.reason : "store_unavailable"))
        )
        const onFailure = (e: InvalidToken) =>
          Effect.andThen(
            Effect.sync(() => {
              rememberFailure(digest, nowMs)
              if (e.reason === "wrong_secret") countFailure(parsed.tokenId, nowMs)
            }),
            countOutcome(e.reason)
          )
        // Verified against this very hash before (and nothing dropped the memo since): no Argon2id.
        const known = trusted && verifiedHash.get(digest) === credential.secretHash
        if (!known) {
          const ok = yield* hashPermits.withPermits(1)(hasher.verify(credential.secretHash, parsed.secret))
          if (!ok) return yield* Effect.tapError(Effect.fail(new InvalidToken({ reason: "wrong_secret" })), onFailure)
          boundedSet(provenDigests, options.maxEntries, digest, true)
          if (trusted && epoch === startEpoch)
            boundedSet(verifiedHash, options.maxEntries, digest, credential.secretHash)
        }
        const principal = yield* checkTokenUsable(credential, new Date(yield* Clock.currentTimeMillis)).pipe(
          Effect.tapError(onFailure)
        )
        if (trusted && epoch === startEpoch) remember(digest, principal, yield* Clock.currentTimeMillis)
        return principal
      })

    const validate = (token: Redacted.Redacted<string>): Effect.Effect<Principal, InvalidToken | StoreUnavailable> =>
      Effect.gen(function* () {
        const nowMs = yield* Clock.currentTimeMillis
        const digest = digester.digest(token)
        if (trusted) {
          const hit = positive.get(digest)
          if (hit !== undefined) {
            if (hit.expiresAtMs > nowMs) {
              yield* countOutcome("cache_hit")
              return hit.principal
            }
            positive.delete(digest)
          }
        }
        const negativeUntil = negative.get(digest)
        if (negativeUntil !== undefined) {
          if (negativeUntil > nowMs) return yield* fail("negative_cache", "wrong_secret")
          negative.delete(digest)
        }
        // A token id under a wrong-secret flood is refused before the database and Argon2id: a
        // flood costs a parse and an HMAC, never a CPU denial of service (DESIGN.md).
        // Parsed once here; the cold path below reuses it.
        const claimed = parsePat(Redacted.value(token))
        if (Either.isLeft(claimed)) return yield* fail("malformed", "malformed")
        const parsed = claimed.right
        if (throttled(parsed.tokenId, nowMs) && !provenDigests.has(digest))
          return yield* fail("throttled", "wrong_secret")
        // Known revoked (pushed by the feed, or revoked here): no lookup, no hashing.
        if (revokedIds.has(parsed.tokenId)) return yield* fail("revoked", "revoked")
        // Single flight, run to completion: a cold verification (lookup + Argon2id) can outlast the
        // caller's deadline. It runs detached and fills the cache even if the caller gave up, so the
        // retry is a hit instead of another doomed Argon2id; concurrent callers share it.
        let flight = inflight.get(digest)
        if (flight === undefined) {
          const deferred = yield* Deferred.make<Principal, InvalidToken | StoreUnavailable>()
          inflight.set(digest, deferred)
          yield* verifyCold(parsed, digest, nowMs).pipe(
            Effect.exit,
            Effect.flatMap((exit) => Deferred.done(deferred, exit)),
            Effect.ensuring(Effect.sync(() => inflight.delete(digest))),
            Effect.forkDaemon
          )
          flight = deferred
        }
        const principal = yield* Deferred.await(flight)
        yield* countOutcome("verified")
        return principal
      }).pipe(
        Effect.timed,
        Effect.tap(([elapsed]) => Metric.update(validationLatency, Duration.toSeconds(elapsed))),
        Effect.map(([, principal]) => principal),
        // No call-site capture: an Error per validation on the hot path, for a span whose site never changes.
        Effect.withSpan("TokenValidator.validate", { captureStackTrace: false })
      )

    return TokenValidator.of({
      validate,
      evict: (tokenId) =>
        Effect.sync(() => {
          epoch++
          markRevoked(tokenId)
        }),
      stats: Effect.sync(() => ({ entries: positive.size, negativeEntries: negative.size, trusted }))
    })
  })

export const TokenValidatorLive = (options?: TokenValidatorOptions) =>
  Layer.scoped(TokenValidator, makeTokenValidator(options))
