import { hash, randomBytes } from "node:crypto"
import {
  type AgentId,
  type AgentVerdict,
  AuthFailuresThrottled,
  AuthGateway,
  type AuthGatewayShape,
  type AuthInvalidation,
  type Authorization,
  AuthUnavailable,
  BoundedMap,
  InvalidToken,
  type Principal,
  parsePat,
  type ServiceDegraded,
  type TokenId
} from "@ibex/domain"
import { Deferred, Effect, Either, FiberId, FiberRef, FiberSet, Layer, Option, Random, Redacted, Stream } from "effect"
import { ClientAddress, FailureBudget, notCharged } from "./FailureBudget.js"
import { StallClock } from "./StallClock.js"

export interface AuthorizationCacheOptions {
  /** Hard backstop on how long a principal or an agent's authorization is reused. Default 10 s. */
  readonly ttlMs: number
  /** How long a refused token or agent is refused without asking auth. Default 2 s. */
  readonly negativeTtlMs: number
  readonly maxEntries: number
  /** The cache is trusted only while auth's stream was heard from this recently. Default 100 ms. */
  readonly staleAfterMs: number
  /** A stream silent this long is abandoned and opened again (half-open TCP never errors). Default 1 s. */
  readonly reconnectAfterMs: number
  /**
   * Failed authentications one client address may cause per minute (its remote lookups that auth
   * refused), in a burst of as many; beyond it, lookups from that address are refused with 429
   * before auth is asked. 0: no limit. Default 120.
   */
  readonly failuresPerMinute: number
  /**
   * Deadline of a background refresh of a hot entry. No client waits on it, so it can outlast a
   * client's budget: on a saturated machine a refresh on the client's 50 ms deadline failed, the
   * entry reached its TTL, and every request waiting on the next miss got 503. Default 1 s.
   */
  readonly refreshDeadlineMs: number
  /**
   * Deadline of the lookup of a token the cache holds nothing usable for (never seen, or past its
   * TTL and any stale grace), while auth is heard from. Such a lookup costs auth one Argon2id
   * verification, and a few arriving together queue for auth's hash permits: under the client's
   * 50 ms budget five of six new tokens used at once got 503, and so did a newcomer's very first
   * request. Requests that need the same answer share the one call. Default 1 s.
   */
  readonly firstLookupDeadlineMs: number
  /**
   * How long past its TTL an accepted entry may still answer when auth gives no answer to its
   * lookup (`ServiceDegraded`: late past the budget, or auth unable to read its store) while
   * auth's stream is heard from: heartbeats prove auth and its change feed alive and every
   * invalidation still arrives, so the entry is as current as the stream says; only the TTL's
   * backstop is stretched, never trust. Never past the token's own expiry, never after auth
   * refused the token. 0: off. Default 10 s. Without it, the first burst after an idle spell (a
   * wave of 1,000 streams opening on a busy 2-core machine) asked auth under the 50 ms budget and
   * 5 % of the burst got 503.
   */
  readonly staleIfErrorMs: number
}

export const defaultAuthorizationCacheOptions: AuthorizationCacheOptions = {
  ttlMs: 10_000,
  negativeTtlMs: 2_000,
  maxEntries: 100_000,
  staleAfterMs: 100,
  reconnectAfterMs: 1_000,
  failuresPerMinute: 120,
  refreshDeadlineMs: 1_000,
  firstLookupDeadlineMs: 1_000,
  staleIfErrorMs: 10_000
}

export interface AuthorizationCacheStats {
  readonly hits: number
  readonly misses: number
  readonly principals: number
  readonly verdicts: number
  readonly trusted: boolean
  readonly resets: number
  /** Background refreshes of entries near the end of their TTL. */
  readonly refreshes: number
  /** Requests answered from an entry past its TTL because auth's answer was late (`staleIfErrorMs`). */
  readonly staleAnswers: number
}

interface PrincipalEntry {
  readonly principal: Principal
  /** The sooner of the TTL and the token's own expiry. */
  readonly expiresAt: number
  /** The token's own expiry: no entry answers past it, stale or not. */
  readonly tokenExpiresAt: number
}
interface VerdictEntry {
  readonly verdict: AgentVerdict
  readonly expiresAt: number
}

/**
 * The proxy's authorization cache (DESIGN.md, "Authorization at the edge"): a warm request makes
 * no remote call. Principals are keyed by an HMAC of the whole token under a key born with this
 * process (the proxy never holds auth's pepper, and a dump of the cache reveals no token);
 * agent verdicts by (org, agent); refusals are remembered briefly.
 *
 * Honesty comes from auth's invalidation stream, not from the TTL: every message drops what it
 * names, and the cache is consulted only while the stream was heard from within `staleAfterMs`
 * (auth heartbeats every 25 ms while its own change feed is proven alive). A silent stream —
 * auth stalled, its LISTEN connection dead, the TCP path blackholed — therefore turns into
 * remote calls within that bound, never into stale answers. Every (re)subscription starts from
 * an empty cache. A lookup that began before any invalidation never writes its answer back
 * (the epoch check), so a revoked token cannot be re-cached by a request that was in flight.
 */
type LookupError = InvalidToken | ServiceDegraded | AuthFailuresThrottled

/** Why a request went to auth: logged when that lookup fails closed. */
type MissReason = "untrusted" | "expired" | "absent" | "refresh"

export const makeAuthorizationCache = (options: AuthorizationCacheOptions = defaultAuthorizationCacheOptions) =>
  Effect.gen(function* () {
    const remote = yield* AuthGateway
    // A keyed digest: SHA3-256 over a 256-bit process-local secret, then the token. SHA-3 has no
    // length extension, so a secret prefix makes it a MAC (the construction KMAC builds on), at
    // under half of an HMAC's cost here: Node builds and keys a new Hmac object on every call.
    const key = randomBytes(32).toString("base64url")
    const digest = (token: Redacted.Redacted<string>) => hash("sha3-256", key + Redacted.value(token), "base64")

    const failureBudget = new FailureBudget(options.failuresPerMinute, options.failuresPerMinute, options.maxEntries)
    const principals = new BoundedMap<string, PrincipalEntry>(options.maxEntries)
    const refusedTokens = new BoundedMap<string, number>(options.maxEntries)
    const verdicts = new BoundedMap<string, VerdictEntry>(options.maxEntries)
    // Tokens auth has accepted here, by key: their lookups are not charged to the client's address.
    // The budget is for failures, and a token auth accepted is not a guess: without this, a client
    // whose entry had merely expired (idle past the TTL) got 429 for as long as a neighbour behind
    // the same address kept that address's budget spent. Possession is all it records (validity is
    // still asked of auth on every miss); a revocation or a change of the token forgets it.
    const proven = new BoundedMap<string, TokenId>(options.maxEntries)
    let trusted = false
    let lastHeard = 0
    let epoch = 0
    const stats = { hits: 0, misses: 0, resets: 0 }
    let refreshes = 0
    let staleAnswers = 0
    const detached = yield* FiberSet.make()
    const runDetached = yield* FiberSet.runtime(detached)<never>()

    const verdictKey = (orgId: string, agentId: string) => `${orgId}/${agentId}`
    // A busy event loop is not a silent auth: its own stall is granted on top of the bound (see
    // StallClock). A dead auth is still caught: heartbeats stop arriving even when turns are short.
    const clock = yield* Effect.acquireRelease(
      Effect.sync(() => new StallClock(10, 100)),
      (c) => Effect.sync(() => c.close())
    )
    const isTrusted = () => {
      if (!trusted) return false
      const now = performance.now()
      return now - lastHeard <= options.staleAfterMs + clock.stall(now)
    }

    const reset = () => {
      epoch++
      trusted = false
      principals.clear()
      refusedTokens.clear()
      verdicts.clear()
      stats.resets++
    }

    const apply = (event: AuthInvalidation) => {
      lastHeard = performance.now()
      switch (event._tag) {
        case "Heartbeat":
          trusted = true
          return
        case "Reset":
          return reset()
        case "TokenRevoked": {
          // A revocation is final: the token's next request is refused here, without asking auth
          // (which a loaded auth could answer only after the budget, as a 503 instead of a 401).
          epoch++
          const refusedUntil = Date.now() + options.negativeTtlMs
          principals.deleteWhere((e, key) => {
            if (e.principal.tokenId !== event.tokenId) return false
            refusedTokens.set(key, refusedUntil)
            return true
          })
          proven.deleteWhere((tokenId) => tokenId === event.tokenId)
          return
        }
        case "TokenChanged":
          epoch++
          principals.deleteWhere((e) => e.principal.tokenId === event.tokenId)
          proven.deleteWhere((tokenId) => tokenId === event.tokenId)
          return
        case "AgentChanged":
          epoch++
          verdicts.deleteWhere((_, k) => k.endsWith(`/${event.agentId}`))
          return
        case "OrgChanged":
          epoch++
          principals.deleteWhere((e) => e.principal.orgId === event.orgId)
          verdicts.deleteWhere((_, k) => k.startsWith(`${event.orgId}/`))
          // A refusal may have been the org's status: an enabled org's tokens work at once.
          refusedTokens.clear()
          return
      }
    }

    // One subscription at a time, in this layer's scope. Each starts from an empty cache (notices
    // may have been missed while it was down) and is abandoned when silent past `reconnectAfterMs`.
    // Silence is watched by one fiber per subscription, not a timeout per event (a timeout races
    // and interrupts a fiber for each of the 40 heartbeats a second, an idle proxy's main cost),
    // and, like trust, it does not count this process's own stalls against auth.
    const session = Effect.suspend(() => {
      reset()
      const subscribedAt = performance.now()
      const silence = Effect.gen(function* () {
        for (;;) {
          yield* Effect.sleep(Math.max(1, Math.round(options.reconnectAfterMs / 4)))
          const now = performance.now()
          // Watching silence alone does not keep the clock running (an idle proxy is not stalled).
          const ownStall = clock.peek(now)
          // `apply` stamps `lastHeard` on every event; this subscription is judged from its start.
          const heardAt = Math.max(lastHeard, subscribedAt)
          if (now - heardAt > options.reconnectAfterMs + ownStall) return yield* new AuthUnavailable()
        }
      })
      const events = remote.invalidations.pipe(Stream.runForEach((event) => Effect.sync(() => apply(event))))
      return Effect.raceFirst(events, silence)
    }).pipe(Effect.ignore, Effect.ensuring(Effect.sync(reset)))

    yield* Effect.gen(function* () {
      let failures = 0
      for (;;) {
        const started = performance.now()
        yield* session
        failures = performance.now() - started > 5_000 ? 0 : failures + 1
        const jitter = yield* Random.nextRange(0.5, 1)
        yield* Effect.sleep(Math.round(Math.min(1_000, 25 * 2 ** Math.min(failures, 6)) * jitter))
      }
    }).pipe(Effect.interruptible, Effect.forkScoped)

    const remember = (tokenKey: string, startEpoch: number, answer: Authorization, agentId: Option.Option<string>) => {
      if (epoch !== startEpoch) return
      // Accepted by auth with no invalidation since the lookup began: any refusal remembered is outdated.
      refusedTokens.delete(tokenKey)
      proven.set(tokenKey, answer.principal.tokenId)
      if (!isTrusted()) return
      const now = Date.now()
      const tokenExpiry = answer.principal.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY
      principals.set(tokenKey, {
        principal: answer.principal,
        expiresAt: Math.min(now + options.ttlMs, tokenExpiry),
        tokenExpiresAt: tokenExpiry
      })
      if (Option.isSome(answer.agent) && Option.isSome(agentId)) {
        const verdict = answer.agent.value
        if (verdict._tag === "Unavailable") return
        const ttl = verdict._tag === "Authorized" ? options.ttlMs : options.negativeTtlMs
        verdicts.set(verdictKey(answer.principal.orgId, agentId.value), {
          verdict,
          expiresAt: Math.min(now + ttl, tokenExpiry)
        })
      }
    }

    // One remote call per (token, agent) at a time: the requests that miss together share it, so
    // a burst of misses (a cold start, a reset) is one call to auth, not one per request. A
    // background refresh is a flight of its own: it has a longer deadline than a client may wait.
    // The deadline's class is part of the key: a request on the client's budget never waits on a
    // first lookup's longer one, nor the other way round.
    const flightKeyOf = (tokenKey: string, agentId: Option.Option<AgentId>, why: MissReason, first: boolean) =>
      `${why === "refresh" ? "refresh:" : first ? "first:" : ""}${Option.isNone(agentId) ? tokenKey : `${tokenKey}/${agentId.value}`}`
    // A flight is joined only while no invalidation arrived since it started (its epoch): its
    // answer may have been read before a revocation the cache has applied since, and a request
    // made after that must not be answered with it. It asks again instead.
    const inflight = new Map<
      string,
      { readonly answer: Deferred.Deferred<Authorization, LookupError>; readonly epoch: number }
    >()
    // Why a lookup failed closed is the first question after a burst of 503s: the cache had lost
    // trust (auth unheard), or held the entry past its TTL, or never had it. Said at most once a
    // second, so a dead auth does not turn into a log line per request.
    let lastFailureLogAt = 0
    const logFailedLookup = (why: MissReason) =>
      Effect.suspend(() => {
        const now = performance.now()
        if (now - lastFailureLogAt < 1_000) return Effect.void
        lastFailureLogAt = now
        return Effect.logWarning({ event: "auth_lookup_failed", cache: why, trusted: isTrusted() })
      })

    const lookup = (
      token: Redacted.Redacted<string>,
      agentId: Option.Option<AgentId>,
      tokenKey: string,
      why: MissReason,
      /** Nothing usable held, and auth heard from: the first lookup's longer deadline. */
      first = false
    ): Effect.Effect<Authorization, LookupError> =>
      // The caller's span, so the detached call stays in the trace of the request that made it.
      Effect.flatMap(
        Effect.zip(Effect.option(Effect.currentParentSpan), FiberRef.get(ClientAddress)),
        ([parent, address]): Effect.Effect<Authorization, LookupError> => {
          const flightKey = flightKeyOf(tokenKey, agentId, why, first)
          const shared = inflight.get(flightKey)
          if (shared !== undefined && shared.epoch === epoch) return Deferred.await(shared.answer)
          // Not a PAT at all: auth would refuse it too; asking would only let garbage cost a round trip.
          if (Either.isLeft(parsePat(Redacted.value(token))))
            return Effect.fail(new InvalidToken({ reason: "malformed" }))
          const charge = proven.has(tokenKey) ? notCharged : failureBudget.admit(address, Date.now())
          if (typeof charge === "number") return Effect.fail(new AuthFailuresThrottled({ retryAfterMs: charge }))
          const startEpoch = epoch
          const mine = Deferred.unsafeMake<Authorization, LookupError>(FiberId.none)
          inflight.set(flightKey, { answer: mine, epoch: startEpoch })
          // Detached: a caller that goes away (client disconnect) must not cancel the call the others share.
          const call =
            why === "refresh"
              ? remote.authorize(token, agentId, { deadlineMs: options.refreshDeadlineMs })
              : first
                ? remote.authorize(token, agentId, { deadlineMs: options.firstLookupDeadlineMs })
                : remote.authorize(token, agentId)
          runDetached(
            (Option.isSome(parent) ? Effect.withParentSpan(call, parent.value) : call).pipe(
              Effect.tap((answer) => Effect.sync(() => remember(tokenKey, startEpoch, answer, agentId))),
              Effect.tapErrorTag("ServiceDegraded", () => logFailedLookup(why)),
              Effect.tapErrorTag("InvalidToken", () =>
                Effect.sync(() => {
                  charge.spend()
                  proven.delete(tokenKey)
                  // Auth's refusal outranks what the cache held: no stale answer may follow it.
                  principals.delete(tokenKey)
                  // Remembered even while the stream is silent: a refusal cannot go stale into a
                  // bypass, and a token polled while auth is degraded is not asked about again.
                  if (epoch === startEpoch) refusedTokens.set(tokenKey, Date.now() + options.negativeTtlMs)
                })
              ),
              Effect.ensuring(Effect.sync(charge.refund)),
              Effect.exit,
              Effect.flatMap((exit) => Deferred.done(mine, exit)),
              // A newer flight for the same key (started after an invalidation) stays.
              Effect.ensuring(
                Effect.sync(() => {
                  if (inflight.get(flightKey)?.answer === mine) inflight.delete(flightKey)
                })
              )
            )
          )
          return Deferred.await(mine)
        }
      )

    // An entry in the last fifth of its TTL is refreshed in the background while it is still served,
    // so a busy proxy's hot tokens never fall off the TTL cliff into remote calls all at once.
    const refreshAhead = (token: Redacted.Redacted<string>, agentId: Option.Option<AgentId>, tokenKey: string) => {
      if (
        inflight.has(flightKeyOf(tokenKey, agentId, "refresh", false)) ||
        inflight.has(flightKeyOf(tokenKey, agentId, "expired", false)) ||
        inflight.has(flightKeyOf(tokenKey, agentId, "absent", true))
      )
        return
      refreshes++
      runDetached(Effect.ignore(lookup(token, agentId, tokenKey, "refresh")))
    }
    const nearExpiry = (expiresAt: number, now: number) => expiresAt - now < options.ttlMs / 5

    const accepted = (answer: Authorization) => Option.isNone(answer.agent) || answer.agent.value._tag === "Authorized"

    const missReason = (tokenKey: string, agentId: Option.Option<AgentId>, now: number): MissReason => {
      if (!isTrusted()) return "untrusted"
      const principal = principals.get(tokenKey)
      if (principal === undefined) return "absent"
      if (principal.expiresAt <= now) return "expired"
      return Option.isSome(agentId) && verdicts.get(verdictKey(principal.principal.orgId, agentId.value)) !== undefined
        ? "expired"
        : "absent"
    }

    // The principal and verdict held for (token, agent), with when the sooner of them expires;
    // `graceMs` past their TTL for a stale answer (never past the token's own expiry).
    const held = (
      tokenKey: string,
      agentId: Option.Option<AgentId>,
      now: number,
      graceMs = 0
    ): { readonly answer: Authorization; readonly expiresAt: number } | undefined => {
      const hit = principals.get(tokenKey)
      if (hit === undefined || hit.expiresAt + graceMs <= now || hit.tokenExpiresAt <= now) return undefined
      if (Option.isNone(agentId))
        return { answer: { principal: hit.principal, agent: Option.none() }, expiresAt: hit.expiresAt }
      const verdict = verdicts.get(verdictKey(hit.principal.orgId, agentId.value))
      if (verdict === undefined || verdict.expiresAt + graceMs <= now) return undefined
      return {
        answer: { principal: hit.principal, agent: Option.some(verdict.verdict) },
        expiresAt: Math.min(hit.expiresAt, verdict.expiresAt)
      }
    }

    // A refused agent is not refreshed ahead: it just expires.
    const serve = (
      token: Redacted.Redacted<string>,
      agentId: Option.Option<AgentId>,
      tokenKey: string,
      entry: { readonly answer: Authorization; readonly expiresAt: number },
      now: number
    ): Authorization => {
      stats.hits++
      if (nearExpiry(entry.expiresAt, now) && accepted(entry.answer)) refreshAhead(token, agentId, tokenKey)
      return entry.answer
    }

    const peek: NonNullable<AuthGatewayShape["peek"]> = (token, agentId) => {
      if (!isTrusted()) return undefined
      const tokenKey = digest(token)
      const now = Date.now()
      const entry = held(tokenKey, agentId, now)
      return entry !== undefined && accepted(entry.answer) ? serve(token, agentId, tokenKey, entry, now) : undefined
    }

    const authorize: AuthGatewayShape["authorize"] = (token, agentId) =>
      Effect.suspend(() => {
        const tokenKey = digest(token)
        const now = Date.now()
        const trustedNow = isTrusted()
        if (trustedNow) {
          const entry = held(tokenKey, agentId, now)
          if (entry !== undefined) return Effect.succeed(serve(token, agentId, tokenKey, entry, now))
        }
        // A remembered refusal is served trusted or not (a denial: at worst a token that became
        // valid meanwhile waits out the refusal's 2 s). While trusted, a live principal outranks it
        // (the agent was what missed).
        const live = trustedNow && (principals.get(tokenKey)?.expiresAt ?? 0) > now
        const refusedUntil = live ? undefined : refusedTokens.get(tokenKey)
        if (refusedUntil !== undefined && refusedUntil > now) {
          stats.hits++
          return Effect.fail(new InvalidToken({ reason: "unknown" }))
        }
        stats.misses++
        const missed = missReason(tokenKey, agentId, now)
        // Past its TTL and past any stale grace, an entry is no better than none: its lookup gets
        // the first lookup's deadline, as it has no stale answer to fall back on.
        const canStale =
          missed === "expired" &&
          options.staleIfErrorMs > 0 &&
          held(tokenKey, agentId, now, options.staleIfErrorMs) !== undefined
        // Only a token's own first lookup waits longer (it costs auth an Argon2id verification): a
        // new agent id for a token held live is one read in auth, on the client's budget, so a
        // holder cycling agent ids cannot hold lookups open for the longer deadline.
        const tokenHeld = (principals.get(tokenKey)?.expiresAt ?? 0) > now
        const first = (missed === "absent" && !tokenHeld) || (missed === "expired" && !canStale)
        const asked = lookup(token, agentId, tokenKey, missed, first)
        return canStale
          ? Effect.catchTag(asked, "ServiceDegraded", (late) => staleOr(token, agentId, tokenKey, late))
          : asked
      })

    // Auth gave no answer: an accepted entry inside its grace answers, judged now (an invalidation
    // or a refusal by auth meanwhile removed the entry or marked the token refused; a silent stream
    // withdrew trust). It also starts a refresh on the refresh's longer deadline: a slow auth
    // usually answers that, so the requests after it are served fresh, not each burst late first.
    const staleOr = (
      token: Redacted.Redacted<string>,
      agentId: Option.Option<AgentId>,
      tokenKey: string,
      late: ServiceDegraded
    ) =>
      Effect.suspend(() => {
        const now = Date.now()
        const refused = (refusedTokens.get(tokenKey) ?? 0) > now
        const stale = isTrusted() && !refused ? held(tokenKey, agentId, now, options.staleIfErrorMs) : undefined
        if (stale === undefined || !accepted(stale.answer)) return Effect.fail(late)
        staleAnswers++
        refreshAhead(token, agentId, tokenKey)
        return Effect.succeed(stale.answer)
      })

    return {
      gateway: AuthGateway.of({ ...remote, authorize, peek }),
      stats: (): AuthorizationCacheStats => ({
        ...stats,
        principals: principals.size,
        verdicts: verdicts.size,
        trusted: isTrusted(),
        refreshes,
        staleAnswers
      })
    }
  })

/** AuthGateway with the proxy's cache in front of the given (remote) one. */
export const AuthGatewayCached = (
  options: AuthorizationCacheOptions = defaultAuthorizationCacheOptions
): Layer.Layer<AuthGateway, never, AuthGateway> =>
  Layer.scoped(
    AuthGateway,
    Effect.map(makeAuthorizationCache(options), (cache) => cache.gateway)
  )
