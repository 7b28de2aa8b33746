import {
  BoundedMap,
  checkTokenUsable,
  InvalidToken,
  type InvalidTokenReason,
  labelledUpdates,
  type OrgId,
  type ParsedPat,
  type Principal,
  parsePat,
  RevocationFeed,
  SecretHasher,
  StoreUnavailable,
  type TokenCredential,
  TokenDigest,
  type TokenId,
  TokenStore
} from "@ibex/domain"
import {
  Cause,
  Clock,
  Context,
  Deferred,
  Effect,
  Either,
  Exit,
  FiberId,
  FiberRef,
  FiberSet,
  Layer,
  Metric,
  MetricBoundaries,
  Option,
  Redacted,
  Stream
} from "effect"
import { makeCredentialBatch } from "./CredentialBatch.js"
import { makeRefusalPacer } from "./RefusalPacer.js"

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
    /** Argon2id verifications started since the layer was built. */
    readonly hashes: number
    /** What a refusal is padded to now (ms): the median recent cold verification. */
    readonly refusalFloorMs?: number
  }>
}

export class TokenValidator extends Context.Tag("@ibex/auth-core/TokenValidator")<
  TokenValidator,
  TokenValidatorShape
>() {}

export interface TokenValidatorOptions {
  /** Hard backstop on how long a verified token is trusted without a fresh check. */
  readonly ttlMs: number
  readonly maxEntries: number
  /** How long a failed (token id, digest) pair, or an unknown token id, is refused without a lookup. */
  readonly negativeTtlMs: number
  readonly maxNegativeEntries: number
  /**
   * Secret guesses per token id per window, counted when admitted (before hashing), after which
   * further guesses are refused unhashed.
   */
  readonly maxFailuresPerToken: number
  readonly failureWindowMs: number
  /** Argon2id verifications allowed to run at once (the hasher's thread pool is the scarce resource). */
  readonly hashConcurrency: number
  /** Verifications allowed to wait for a hash permit; past it a caller is refused at once (503), nobody else. */
  readonly maxQueuedHashes: number
  /**
   * Every refusal of a well-formed token (unknown id, wrong secret, throttled, revoked, expired,
   * org disabled; from a cache or not) takes at least the median duration of the last cold
   * verifications that ran Argon2id, padded with a sleep (no CPU, no hash permit), so its timing
   * does not tell an unknown id from a known one. Until one has run, this floor applies (ms).
   * 0 disables the padding.
   */
  readonly refusalInitialFloorMs: number
  /** Padded refusals woken per turn of the event loop at most (RefusalPacer: why). */
  readonly refusalWakeBatch: number
  /** Token ids looked up in one `findCredentials` call at most (CredentialBatch: why). */
  readonly maxLookupBatch: number
  /** `findCredentials` calls out at once; cold lookups arriving past it wait and go in one batch. */
  readonly lookupsInFlight: number
}

export const defaultTokenValidatorOptions: TokenValidatorOptions = {
  ttlMs: 5_000,
  maxEntries: 10_000,
  negativeTtlMs: 5_000,
  maxNegativeEntries: 10_000,
  maxFailuresPerToken: 5,
  failureWindowMs: 10_000,
  hashConcurrency: 2,
  maxQueuedHashes: 64,
  refusalInitialFloorMs: 30,
  refusalWakeBatch: 32,
  maxLookupBatch: 256,
  lookupsInFlight: 4
}

export type ValidationOutcome =
  | "cache_hit"
  | "verified"
  | InvalidTokenReason
  | "negative_cache"
  | "throttled"
  | "hash_queue_full"
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

/** Secret guesses for one token id: counted at admission, so concurrent guesses cannot all pass the check. */
interface Attempts {
  /** Guesses admitted in the current window (running, or finished wrong). */
  count: number
  windowStartMs: number
}

// labelledUpdates: why not Metric.tagged.
const outcomeCounter = labelledUpdates(validationOutcomes, "outcome")
/** `ibex_auth_validation_total{outcome}` + 1, outside any Effect (answers decided from memory). */
const countNow = (outcome: ValidationOutcome): void => outcomeCounter(outcome)(1)
const countOutcome = (outcome: ValidationOutcome) => Effect.sync(() => countNow(outcome))

/**
 * Why this exists (DESIGN.md, "Argon2id cost"): Argon2id costs 36–250 ms here and the budget is
 * 50 ms, so a token is verified with Argon2id once, then trusted by a keyed digest of the whole
 * token for at most `ttlMs`. Revocations arrive by push (RevocationFeed) and evict at once; while
 * the feed is disconnected nothing is cached, so a lost notice can never keep a revoked token alive.
 *
 * Past the TTL (or while the feed is stale) a token is checked against the database again, but
 * Argon2id does not run again: the validator remembers which stored hash each digest was verified
 * against, and a fresh row with that same hash needs only the validity rules (revoked, expired,
 * org status). Token ids learnt as revoked (the feed, or `evict` on the revoking instance) are
 * refused before the database lookup: a revocation is final.
 *
 * Timing: an unknown token id fails before any hashing (hashing it would reopen the flood), but
 * its refusal is padded with a sleep to the median duration of recent cold verifications, so an
 * unknown id and a throttled or repeated guess take as long as a wrong secret for a known id.
 * Revoked, expired and disabled-org refusals are answered at once (see `padded`). The sleeping
 * refusals wait in one RefusalPacer, which wakes them a batch per turn of the event loop, so a
 * flood's refusals never all wake ahead of another tenant's finished hash.
 *
 * Argon2id is the scarce resource, so it is bounded three ways: guesses for a token id are
 * counted when admitted (a flood of concurrent wrong secrets gets `maxFailuresPerToken` hashes,
 * not one each), at most one hash per token id runs at a time, and the queue for the hasher is
 * bounded — a caller who finds it full is refused at once instead of delaying everyone else.
 */
/**
 * The refusals that could tell a guesser which ids exist: an unknown id and a wrong secret
 * (throttled guesses included). A revoked, expired or disabled-org refusal is not padded: it
 * concerns an id its caller already holds, and padding it to an Argon2id's duration pushed a
 * revoked token's refusal past the proxy's 50 ms budget (a 503 instead of the 401 the revocation
 * promises).
 */
const padded: ReadonlySet<string> = new Set(["unknown", "wrong_secret"])

const isWrongSecret = (exit: Exit.Exit<unknown, InvalidToken | StoreUnavailable>): boolean =>
  Exit.isFailure(exit) &&
  Option.exists(Cause.failureOption(exit.cause), (e) => e._tag === "InvalidToken" && e.reason === "wrong_secret")

/**
 * When the caller stops waiting (epoch ms; null: no deadline): the gRPC adapter sets it from the
 * call's deadline. A padded refusal never sleeps past it (minus `replyMarginMs` for the trip
 * back): padding to a floor longer than the caller's budget turned a refusal into a 503 at the
 * proxy, a wrong answer bought for a timing property. Capped at the deadline, an unknown id and a
 * wrong secret still look alike to the caller, who sees both answered at the end of its budget
 * or at the floor, whichever is sooner.
 */
export const ReplyDeadline: FiberRef.FiberRef<number | null> = FiberRef.unsafeMake<number | null>(null)

/**
 * Time kept for the answer's trip back before the caller's deadline: a fifth of the time the
 * caller gave, at least 10 ms (a timer in a busy process fires late, and the trip back is not free).
 */
export const replyMarginMs = (budgetMs: number): number => Math.max(10, budgetMs / 5)

/** How many recent cold verifications the unknown-id floor is the median of. */
const FLOOR_SAMPLES = 31

export const makeTokenValidator = (options: TokenValidatorOptions = defaultTokenValidatorOptions) =>
  Effect.gen(function* () {
    const store = yield* TokenStore
    const hasher = yield* SecretHasher
    const digester = yield* TokenDigest
    const feed = yield* RevocationFeed
    // Cold verifications outlive their callers (below); they live in this layer's scope.
    const detached = yield* FiberSet.make()
    const runDetached = yield* FiberSet.runtime(detached)<never>()
    // Wall-clock time (not the Clock service): the padding is about real time, under a test clock too.
    const pacer = yield* makeRefusalPacer(options.refusalWakeBatch)
    const lookups = yield* makeCredentialBatch(store.findCredentials, {
      maxBatch: options.maxLookupBatch,
      maxInFlight: options.lookupsInFlight
    })

    const byToken = new Map<TokenId, Set<string>>()
    const positive = new BoundedMap<string, Entry>(options.maxEntries, (digest, entry) =>
      byToken.get(entry.principal.tokenId)?.delete(digest)
    )
    /** digest → refused until (ms); token id → unknown until (ms). */
    const negative = new BoundedMap<string, number>(options.maxNegativeEntries)
    const unknownIds = new BoundedMap<TokenId, number>(options.maxNegativeEntries)
    const attempts = new BoundedMap<TokenId, Attempts>(options.maxNegativeEntries)
    /** digest → the stored hash it was verified against with Argon2id (used only while trusted). */
    const verifiedHash = new BoundedMap<string, string>(options.maxEntries)
    // Digests of tokens whose secret Argon2id has accepted. They exempt their holder from the
    // per-token-id throttle: the token id is not secret (it is in the token and in ListTokens),
    // so without this anyone could keep a real holder locked out by guessing secrets for its id.
    // Only possession is remembered; validity is still read from the store every time. Kept
    // across feed drops, because possession of a secret does not change with the feed.
    const provenDigests = new BoundedMap<string, TokenId>(options.maxEntries, (_, tokenId) => unprove(tokenId))
    /** How many proven digests each token id has (in step with `provenDigests`). */
    const provenIds = new Map<TokenId, number>()
    const unprove = (tokenId: TokenId) => {
      const left = (provenIds.get(tokenId) ?? 1) - 1
      if (left > 0) provenIds.set(tokenId, left)
      else provenIds.delete(tokenId)
    }
    const prove = (digest: string, tokenId: TokenId) => {
      if (!provenDigests.has(digest)) provenIds.set(tokenId, (provenIds.get(tokenId) ?? 0) + 1)
      provenDigests.set(digest, tokenId)
    }
    /** Token ids known to be revoked; no TTL (revocation is final), bounded. */
    const revokedIds = new BoundedMap<TokenId, true>(options.maxNegativeEntries)
    /** One Argon2id per token id at a time: the tail of each id's chain of hashes. */
    const hashTails = new Map<TokenId, Deferred.Deferred<void>>()
    let connected = false
    let trusted = false
    // Bumped on every revocation or feed drop: a verification that started before a bump must not be cached.
    let epoch = 0
    let queuedHashes = 0
    let hashes = 0
    const hashPermits = yield* Effect.makeSemaphore(options.hashConcurrency)
    // Durations (ms) of the last cold verifications that ran Argon2id, lookup included: what a
    // known id with a wrong secret costs. No well-formed token is refused sooner than their median.
    const coldSamples: Array<number> = []
    let coldMedian: number | undefined
    const recordCold = (ms: number) => {
      coldSamples.push(ms)
      if (coldSamples.length > FLOOR_SAMPLES) coldSamples.shift()
      const sorted = [...coldSamples].sort((a, b) => a - b)
      coldMedian = sorted[Math.floor(sorted.length / 2)]
    }
    const refusalFloor = () => (options.refusalInitialFloorMs <= 0 ? 0 : (coldMedian ?? options.refusalInitialFloorMs))
    /** Pads a refusal that began at `startedAt` (performance.now()) to the floor. */
    const padRefusal = (startedAt: number) =>
      Effect.withFiberRuntime<void>((fiber) => {
        const deadline = fiber.getFiberRef(ReplyDeadline)
        const untilFloor = startedAt + refusalFloor() - performance.now()
        const now = Date.now()
        const budget = deadline === null ? Number.POSITIVE_INFINITY : deadline - (now - (performance.now() - startedAt))
        const untilDeadline = deadline === null ? Number.POSITIVE_INFINITY : deadline - replyMarginMs(budget) - now
        const ms = Math.round(Math.min(untilFloor, untilDeadline))
        return ms <= 0 ? Effect.void : pacer.sleepUntil(performance.now() + ms)
      })

    const forgetToken = (tokenId: TokenId) => {
      const digests = byToken.get(tokenId)
      if (digests) for (const d of digests) positive.delete(d)
      byToken.delete(tokenId)
    }
    const forgetOrg = (orgId: OrgId) => {
      for (const [digest, entry] of positive.entries())
        if (entry.principal.orgId === orgId) {
          positive.delete(digest)
          byToken.delete(entry.principal.tokenId)
        }
    }
    const clearAll = () => {
      positive.clear()
      byToken.clear()
      verifiedHash.clear()
    }
    const markRevoked = (tokenId: TokenId) => {
      forgetToken(tokenId)
      revokedIds.set(tokenId, true)
    }

    yield* feed.subscribe.pipe(
      Stream.runForEach((event) =>
        Effect.sync(() => {
          // Agent changes concern the AgentVerifier, not token verdicts.
          if (event._tag === "AgentChanged") return
          epoch++
          switch (event._tag) {
            case "Revoked":
              return markRevoked(event.tokenId)
            case "TokenChanged":
              // A changed or deleted row may carry another hash: never skip Argon2id on the old memo.
              forgetToken(event.tokenId)
              unknownIds.delete(event.tokenId)
              return verifiedHash.clear()
            case "OrgChanged":
              // A refusal may have been the org's status: an enabled org's tokens work at once.
              negative.clear()
              return forgetOrg(event.orgId)
            case "Disconnected":
              connected = false
              trusted = false
              return clearAll()
            case "Connected":
              clearAll()
              connected = true
              trusted = true
              return
            // Late, not lost: stop answering from the cache, keep it; on time again, it is current.
            case "Stale":
              trusted = false
              return
            case "Fresh":
              trusted = connected
              return
          }
        })
      ),
      Effect.forkScoped
    )

    const remember = (digest: string, principal: Principal, nowMs: number) => {
      const tokenExpiry = principal.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY
      positive.set(digest, { principal, expiresAtMs: Math.min(nowMs + options.ttlMs, tokenExpiry) })
      let set = byToken.get(principal.tokenId)
      if (!set) {
        set = new Set()
        byToken.set(principal.tokenId, set)
      }
      set.add(digest)
    }

    /** Admits one secret guess for the id, or refuses it: the count rises before the hash, not after. */
    const admitGuess = (tokenId: TokenId, nowMs: number): boolean => {
      const a = attempts.get(tokenId)
      if (a === undefined || nowMs - a.windowStartMs >= options.failureWindowMs) {
        attempts.set(tokenId, { count: 1, windowStartMs: nowMs })
        return true
      }
      if (a.count >= options.maxFailuresPerToken) return false
      a.count++
      return true
    }
    /** A guess that was not a wrong secret does not count against the id. */
    const forgiveGuess = (tokenId: TokenId) => {
      const a = attempts.get(tokenId)
      if (a !== undefined && a.count > 0) a.count--
    }
    const throttled = (tokenId: TokenId, nowMs: number): boolean => {
      const a = attempts.get(tokenId)
      return (
        a !== undefined && nowMs - a.windowStartMs < options.failureWindowMs && a.count >= options.maxFailuresPerToken
      )
    }

    /**
     * One Argon2id verification: after the previous one for the same id (a chain of Deferreds),
     * then under the global permits. Refused at once when the hasher's queue is full.
     */
    const hashOnce = (tokenId: TokenId, secretHash: string, secret: Redacted.Redacted<string>) =>
      Effect.gen(function* () {
        if (queuedHashes >= options.maxQueuedHashes) {
          yield* countOutcome("hash_queue_full")
          return yield* new StoreUnavailable({ operation: "TokenValidator.hash (queue full)" })
        }
        queuedHashes++
        const previous = hashTails.get(tokenId)
        const mine = yield* Deferred.make<void>()
        hashTails.set(tokenId, mine)
        return yield* Effect.gen(function* () {
          if (previous !== undefined) yield* Deferred.await(previous)
          hashes++
          return yield* hashPermits.withPermits(1)(hasher.verify(secretHash, secret))
        }).pipe(
          Effect.ensuring(
            Effect.suspend(() => {
              queuedHashes--
              if (hashTails.get(tokenId) === mine) hashTails.delete(tokenId)
              return Deferred.succeed(mine, undefined)
            })
          )
        )
      })

    const inflight = new Map<string, Deferred.Deferred<Principal, InvalidToken | StoreUnavailable>>()

    /** The rest of a cold verification, once the store has found the token's row. */
    const verifyFound = (
      parsed: ParsedPat,
      credential: TokenCredential,
      digest: string,
      nowMs: number,
      startedAt: number,
      startEpoch: number
    ) =>
      Effect.gen(function* () {
        const onFailure = (e: InvalidToken) =>
          Effect.andThen(
            Effect.sync(() => negative.set(digest, nowMs + options.negativeTtlMs)),
            countOutcome(e.reason)
          )
        // Verified against this very hash before: no Argon2id. Possession of the secret behind a
        // hash does not depend on the feed, so the memo holds even while the cache is not trusted.
        const known = verifiedHash.get(digest) === credential.secretHash
        if (!known) {
          const ok = yield* hashOnce(parsed.tokenId, credential.secretHash, parsed.secret)
          recordCold(performance.now() - startedAt)
          if (!ok)
            return yield* Effect.tapError(
              Effect.fail(new InvalidToken({ reason: "wrong_secret" }, { disableValidation: true })),
              onFailure
            )
          prove(digest, parsed.tokenId)
          verifiedHash.set(digest, credential.secretHash)
        }
        const principal = yield* checkTokenUsable(credential, new Date(yield* Clock.currentTimeMillis)).pipe(
          Effect.tapError(onFailure)
        )
        if (trusted && epoch === startEpoch) remember(digest, principal, yield* Clock.currentTimeMillis)
        return principal
      })

    type Flight = Deferred.Deferred<Principal, InvalidToken | StoreUnavailable>
    /** What memory alone decides: a cached verdict, a refusal, or the flight (lookup + Argon2id) to wait on. */
    type Decision =
      | { readonly _tag: "Hit"; readonly principal: Principal }
      | { readonly _tag: "Refuse"; readonly outcome: ValidationOutcome; readonly reason: InvalidTokenReason }
      | { readonly _tag: "Await"; readonly flight: Flight }
    const refuse = (outcome: ValidationOutcome, reason: InvalidTokenReason): Decision => ({
      _tag: "Refuse",
      outcome,
      reason
    })

    /**
     * Synchronous: no fiber, no Effect per step. A flood is answered mostly from here (throttled
     * guesses, cached refusals), and every refusal made with Effect machinery was ~100 µs of the
     * auth process's CPU, so 1,000 concurrent guesses kept another tenant's validation waiting
     * behind them for 100–170 ms.
     */
    const decide = (token: Redacted.Redacted<string>, nowMs: number, startedAt: number): Decision => {
      // Parsed once here; the cold path below reuses it. A malformed token is in no cache.
      const claimed = parsePat(Redacted.value(token))
      if (Either.isLeft(claimed)) return refuse("malformed", "malformed")
      const parsed = claimed.right
      // A guess for a throttled id that no secret was ever proven for here is refused on the id
      // alone, before the HMAC: with no proven digest, the id has no cached verdict to find either
      // (the HMAC was a quarter of a throttled guess's CPU and its one native handle for the GC).
      const isThrottled = throttled(parsed.tokenId, nowMs)
      if (isThrottled && !provenIds.has(parsed.tokenId)) return refuse("throttled", "wrong_secret")
      const digest = digester.digest(token)
      if (trusted) {
        const hit = positive.get(digest)
        if (hit !== undefined) {
          if (hit.expiresAtMs > nowMs) return { _tag: "Hit", principal: hit.principal }
          positive.delete(digest)
        }
      }
      const negativeUntil = negative.get(digest)
      if (negativeUntil !== undefined) {
        if (negativeUntil > nowMs) return refuse("negative_cache", "wrong_secret")
        negative.delete(digest)
      }
      // Refused before the database and Argon2id: a flood costs a parse, at most an HMAC (DESIGN.md).
      if (isThrottled && !provenDigests.has(digest)) return refuse("throttled", "wrong_secret")
      // Known revoked (pushed by the feed, or revoked here): no lookup, no hashing.
      if (revokedIds.has(parsed.tokenId)) return refuse("revoked", "revoked")
      const unknownUntil = unknownIds.get(parsed.tokenId)
      if (unknownUntil !== undefined) {
        if (unknownUntil > nowMs) return refuse("negative_cache", "unknown")
        unknownIds.delete(parsed.tokenId)
      }
      // Single flight, run to completion: a cold verification (lookup + Argon2id) can outlast the
      // caller's deadline. It runs detached (in the layer's scope) and fills the cache even if the
      // caller gave up, so the retry is a hit instead of another doomed Argon2id; concurrent
      // callers share it.
      const existing = inflight.get(digest)
      if (existing !== undefined) return { _tag: "Await", flight: existing }
      // A new flight is a guess at the id's secret unless this very token proved itself before:
      // counted here, at admission, before the lookup and before any fiber of its own, so a flood
      // of concurrent guesses gets `maxFailuresPerToken` flights and the rest of it is refused by
      // this check alone (the same one a throttled id meets above).
      const guessed = !provenDigests.has(digest)
      if (guessed && !admitGuess(parsed.tokenId, nowMs)) return refuse("throttled", "wrong_secret")
      const flight: Flight = Deferred.unsafeMake(FiberId.none)
      inflight.set(digest, flight)
      const startEpoch = epoch
      const settle = (exit: Exit.Exit<Principal, InvalidToken | StoreUnavailable>) => {
        // Only a wrong secret stays counted: a right one, an unknown id, a revoked token or a
        // store failure was not a failed guess.
        if (guessed && !isWrongSecret(exit)) forgiveGuess(parsed.tokenId)
        if (inflight.get(digest) === flight) inflight.delete(digest)
        Deferred.unsafeDone(flight, exit)
      }
      // The lookup goes out at once, or with the others waiting for a free slot (CredentialBatch);
      // only a token whose row exists gets a fiber, for Argon2id. An unknown id is refused from
      // the callback (on the in-memory store, before this function returns).
      lookups.lookup(parsed.tokenId, (found) => {
        if (Exit.isFailure(found)) {
          if (!Cause.isInterruptedOnly(found.cause)) countNow("store_unavailable")
          return settle(Exit.failCause(found.cause))
        }
        if (found.value === undefined) {
          unknownIds.set(parsed.tokenId, nowMs + options.negativeTtlMs)
          countNow("unknown")
          // A literal reason: the constructor's schema check is skipped (a flood of unknown ids pays it per id).
          return settle(Exit.fail(new InvalidToken({ reason: "unknown" }, { disableValidation: true })))
        }
        runDetached(
          Effect.onExit(verifyFound(parsed, found.value, digest, nowMs, startedAt, startEpoch), (exit) =>
            Effect.sync(() => settle(exit))
          )
        )
      })
      return { _tag: "Await", flight }
    }

    const observeLatency = (startedAt: number) =>
      validationLatency.unsafeUpdate((performance.now() - startedAt) / 1000, [])

    /**
     * No well-formed token is refused sooner than a cold verification takes: an unknown id, a
     * throttled guess or a cached refusal would otherwise tell which ids exist (each caller pads
     * its own wait; a malformed token says nothing about any id).
     */
    const padIfNeeded = <A>(startedAt: number, self: Effect.Effect<A, InvalidToken | StoreUnavailable>) =>
      Effect.tapError(self, (e) =>
        e._tag === "InvalidToken" && padded.has(e.reason) ? padRefusal(startedAt) : Effect.void
      )

    const awaitFlight = (flight: Flight, startedAt: number) =>
      padIfNeeded(
        startedAt,
        Effect.tap(Deferred.await(flight), () => countOutcome("verified"))
      ).pipe(
        Effect.ensuring(Effect.sync(() => observeLatency(startedAt))),
        // No call-site capture: an Error per validation on the hot path, for a span whose site never changes.
        Effect.withSpan("TokenValidator.validate", { captureStackTrace: false })
      )

    /**
     * Answers from memory need no span of their own (the RPC's span covers them) and count their
     * outcome without an Effect; a flight, where a lookup and Argon2id happen, is traced.
     */
    const validate = (token: Redacted.Redacted<string>): Effect.Effect<Principal, InvalidToken | StoreUnavailable> =>
      Effect.clockWith((clock) => {
        const startedAt = performance.now()
        const decision = decide(token, clock.unsafeCurrentTimeMillis(), startedAt)
        switch (decision._tag) {
          case "Hit":
            countNow("cache_hit")
            observeLatency(startedAt)
            return Effect.succeed(decision.principal)
          case "Refuse": {
            countNow(decision.outcome)
            const refused = Effect.failSync(() => {
              observeLatency(startedAt)
              // Typed already (a literal of InvalidTokenReason): the constructor's own schema check
              // is skipped, as it was a visible part of a refusal's cost under a flood.
              return new InvalidToken({ reason: decision.reason }, { disableValidation: true })
            })
            return padded.has(decision.reason) ? Effect.zipRight(padRefusal(startedAt), refused) : refused
          }
          case "Await":
            return awaitFlight(decision.flight, startedAt)
        }
      })

    return TokenValidator.of({
      validate,
      evict: (tokenId) =>
        Effect.sync(() => {
          epoch++
          markRevoked(tokenId)
        }),
      stats: Effect.sync(() => ({
        entries: positive.size,
        negativeEntries: negative.size,
        trusted,
        hashes,
        refusalFloorMs: refusalFloor()
      }))
    })
  })

export const TokenValidatorLive = (options?: TokenValidatorOptions) =>
  Layer.scoped(TokenValidator, makeTokenValidator(options))
