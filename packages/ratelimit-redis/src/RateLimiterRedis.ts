import { randomUUID } from "node:crypto"
import {
  type CounterAnswer,
  makeSeededUsageLimiter,
  type OrgId,
  type RateLimitDecision,
  RateLimiter,
  type RateLimiterShape,
  RateLimiterUnavailable,
  type RateLimitPolicy,
  SPEND_COUNT_IDLE_MS,
  type SpendCounter,
  tokensToCount,
  UsageLedger,
  UsageLimiter,
  type UsageLimiterShape,
  type UsageReservation
} from "@ibex/domain"
import { Context, Effect, Either, Layer, Runtime, type Scope } from "effect"
import { Redis } from "ioredis"
import { type CircuitState, makeCircuitBreaker } from "./CircuitBreaker.js"
import { corkPerTurn } from "./corkPerTurn.js"
import { GCRA_LUA, GCRA_SHA } from "./gcraScript.js"
import { defaultLeaseOptions, type Grant, leaseUnits, makeLeaseBook } from "./LeaseBook.js"
import { USAGE_LUA, USAGE_SHA } from "./usageScript.js"

/** The commands the adapter uses; a `Redis` or a `Cluster` from ioredis both qualify. */
export interface RedisLike {
  evalsha(sha: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>
  get(key: string): Promise<string | null>
  hget(key: string, field: string): Promise<string | null>
  script(subcommand: "LOAD", script: string): Promise<unknown>
  ping(): Promise<string>
}

export interface RateLimiterRedisOptions {
  /** Used when `client` is absent; the adapter then owns the connection (and closes it with its scope). */
  readonly url?: string
  /** A caller-owned client (e.g. an ioredis Cluster); give it `enableOfflineQueue: false` and a short `commandTimeout`. */
  readonly client?: RedisLike
  /** Key prefix; the key is `<prefix>{<orgId>}`, hash-tagged by org for Redis Cluster. Default `ibex:rl:`. */
  readonly keyPrefix?: string
  /**
   * How long a decision waits for Redis before Redis is judged slow and the request passes
   * uncounted. Default 25 ms. It is a judgement of Redis, not of this process: see
   * `makeRateLimiterRedis` for what extends the wait.
   */
  readonly commandTimeoutMs?: number
  /**
   * The longest any decision waits, whatever the evidence: past it the request passes (fail
   * open) and the failure counts. Default 2000 ms.
   */
  readonly hardTimeoutMs?: number
  /**
   * How long Redis must have sent nothing at all (timers firing on time meanwhile) before a
   * waiting decision fails open. Default 100 ms: a Redis the kernel did not schedule for a few
   * budget intervals on a loaded machine is not a dead Redis.
   */
  readonly silenceBeforeFailOpenMs?: number
  /** Consecutive failures that open the circuit. Default 5. */
  readonly failureThreshold?: number
  /** How long the open circuit refuses calls before one half-open probe. Default 1000 ms. */
  readonly cooldownMs?: number
  /** Upper bound of the reconnect back-off of an owned client. Default 1000 ms. */
  readonly reconnectMaxDelayMs?: number
  /** How long layer construction waits for an owned client's first connection (never fails). Default 1000 ms. */
  readonly startupWaitMs?: number
  /**
   * Units one script call may take for an org with a high limit, admitted here without a round
   * trip (see LeaseBook.ts). Default 64; 1 turns leases off.
   */
  readonly leaseMaxUnits?: number
}

export interface RateLimiterRedisHealthShape {
  /** PING within the command budget (×4); false on any failure. For /ready. */
  readonly ping: Effect.Effect<boolean>
  readonly circuit: () => CircuitState
}

export class RateLimiterRedisHealth extends Context.Tag("@ibex/ratelimit-redis/RateLimiterRedisHealth")<
  RateLimiterRedisHealth,
  RateLimiterRedisHealthShape
>() {}

export const DEFAULT_KEY_PREFIX = "ibex:rl:"

/** `<prefix>{<orgId>}`: the braces are a Redis Cluster hash tag, so an org's key maps to one slot. */
export const rateLimitKey = (prefix: string, orgId: OrgId | string): string => `${prefix}{${orgId}}`

const isNoScript = (e: unknown) => e instanceof Error && e.message.startsWith("NOSCRIPT")

const toCounterAnswer = (reply: unknown, limit: number | null): CounterAnswer => {
  if (!Array.isArray(reply) || reply.length < 5) throw new Error("unexpected script reply")
  const [verdict, remaining, resetAtMs, retryAfterMs] = reply.slice(0, 4).map(Number) as [
    number,
    number,
    number,
    number
  ]
  const count = String(reply[4])
  const window = limit === null ? null : { limit, remaining, resetAtMs }
  if (verdict === 4) return { _tag: "Unseeded" }
  if (verdict === 3) return { _tag: "Counted", admission: { _tag: "BudgetExceeded" }, count: undefined }
  if (verdict === 2 && window !== null)
    return { _tag: "Counted", admission: { _tag: "TokensExceeded", window, retryAfterMs }, count: undefined }
  if (verdict === 1)
    return { _tag: "Counted", admission: { _tag: "Admitted", tokens: window }, count: count === "" ? undefined : count }
  throw new Error("unexpected script verdict")
}

const toDecision = (reply: unknown, limit: number): RateLimitDecision => {
  if (!Array.isArray(reply) || reply.length < 4) throw new Error("unexpected script reply")
  const [allowed, remaining, resetAtMs, retryAfterMs] = reply.map(Number) as [number, number, number, number]
  return { allowed: allowed === 1, limit, remaining, resetAtMs, retryAfterMs }
}

const toGrant = (reply: unknown, limit: number): Grant => {
  const decision = toDecision(reply, limit)
  const granted = Number((reply as Array<unknown>)[4])
  if (decision.allowed && !(Number.isInteger(granted) && granted >= 1)) throw new Error("unexpected grant")
  return { decision, granted: decision.allowed ? granted : 0 }
}

const ownedClient = (url: string, options: RateLimiterRedisOptions) => {
  const maxDelay = options.reconnectMaxDelayMs ?? 1000
  return new Redis(url, {
    // A dead Redis must cost nothing per request: no queueing while disconnected, a short
    // per-command timeout, no per-request retries; reconnect keeps trying in the background.
    // No ioredis command timeout: its timer fires in the timers phase, before the poll phase reads a
    // reply already waiting in the socket, so on a busy event loop it would fail healthy commands.
    // The adapter judges slowness itself (below), from Redis's replies.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
    retryStrategy: (times) => Math.min(times * 50, maxDelay),
    lazyConnect: false,
    // Batched by `corkPerTurn` instead (see there for why not ioredis's auto-pipelining).
    enableAutoPipelining: false
  })
}

/**
 * The Redis RateLimiter: per-org GCRA in one atomic Lua script (EVALSHA, reloaded on NOSCRIPT),
 * Redis's clock, a 25 ms budget and a circuit breaker. Every failure is `RateLimiterUnavailable`;
 * the proxy's use case fails open on it and then emits no rate-limit headers.
 *
 * Failing open is a security decision (an uncounted request), so it needs evidence that Redis is
 * down or slow, never mere load on this process: a disconnected client refuses at once (no
 * offline queue), a connection error fails the command, and a command outstanding past the budget
 * fails only if Redis has sent nothing back for 100 ms while the timers fired on time.
 */
export const makeRateLimiterRedis = (
  options: RateLimiterRedisOptions
): Effect.Effect<
  RateLimiter["Type"] &
    RateLimiterRedisHealthShape & {
      readonly usage: UsageLimiterShape
      readonly consumeNow: NonNullable<RateLimiterShape["consumeNow"]>
    },
  never,
  Scope.Scope | UsageLedger
> =>
  Effect.gen(function* () {
    const ledger = yield* UsageLedger
    const prefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX
    const timeoutMs = options.commandTimeoutMs ?? 25
    const runtime = yield* Effect.runtime<never>()
    const breaker = makeCircuitBreaker({
      failureThreshold: options.failureThreshold ?? 5,
      cooldownMs: options.cooldownMs ?? 1000,
      // An outage and its end, each once in the log: limits are off meanwhile (budgets refuse).
      onChange: (state) =>
        Runtime.runFork(runtime)(
          state === "open"
            ? Effect.logWarning({
                event: "redis_unavailable",
                effect: "request and token limits pass uncounted; orgs with a budget get 503 until Redis answers"
              })
            : Effect.logInfo({ event: "redis_available", effect: "limits are counted again" })
        )
    })

    let client: RedisLike
    // A caller-owned client batches (or not) as its owner configured it.
    let beforeCommand = () => {}
    if (options.client !== undefined) {
      client = options.client
    } else {
      const owned = yield* Effect.acquireRelease(
        Effect.sync(() => {
          const c = ownedClient(options.url ?? "redis://127.0.0.1:6379", options)
          // Connection errors surface through the breaker; an unhandled 'error' event would crash the process.
          c.on("error", () => {})
          return c
        }),
        // QUIT lets the commands already sent be answered (the settles of the last requests a
        // drain let end); a Redis that does not answer it in time is dropped.
        (c) =>
          Effect.promise(() => c.quit().catch(() => undefined)).pipe(
            Effect.timeout("500 millis"),
            Effect.ignore,
            Effect.ensuring(Effect.sync(() => c.disconnect()))
          )
      )
      yield* Effect.async<void>((resume) => {
        if (owned.status === "ready") return resume(Effect.void)
        const done = () => {
          clearTimeout(timer)
          owned.off("ready", done)
          resume(Effect.void)
        }
        const timer = setTimeout(done, options.startupWaitMs ?? 1000)
        owned.once("ready", done)
      })
      client = owned
      beforeCommand = corkPerTurn(owned)
    }

    const run = async (sha: string, lua: string, keys: ReadonlyArray<string>, args: ReadonlyArray<string | number>) => {
      try {
        beforeCommand()
        return await client.evalsha(sha, keys.length, ...keys, ...args)
      } catch (e) {
        if (!isNoScript(e)) throw e
        // The script cache was flushed (restart, failover, SCRIPT FLUSH): load it again and retry once.
        beforeCommand()
        await client.script("LOAD", lua)
        beforeCommand()
        return await client.evalsha(sha, keys.length, ...keys, ...args)
      }
    }

    const unavailable = new RateLimiterUnavailable()
    const hardTimeoutMs = options.hardTimeoutMs ?? 2_000
    // When this process last read any reply from Redis. A reply read while a command waits proves
    // Redis is answering: that command waits behind others (or behind this process's own busy
    // event loop), not on a dead Redis.
    let lastReplyAt = 0
    // How late a timer may fire before the delay is blamed on this process, not on Redis.
    const lagToleranceMs = Math.max(5, timeoutMs / 2)
    const silenceBeforeFailOpenMs = Math.max(timeoutMs, options.silenceBeforeFailOpenMs ?? 100)

    /**
     * One script call, judged as described above; `read` turns the reply into the answer (a throw
     * is a failure). Callback-shaped underneath, so the proxy's warm path can take a decision
     * without a fiber (`consumeNow`); `judged` is the same call as an Effect.
     */
    const judge = <A>(
      sha: string,
      lua: string,
      keys: ReadonlyArray<string>,
      args: ReadonlyArray<string | number>,
      read: (reply: unknown) => A,
      done: (result: Either.Either<A, RateLimiterUnavailable>) => void
    ): void => {
      if (!breaker.tryAcquire()) {
        done(Either.left(unavailable))
        return
      }
      const sentAt = performance.now()
      let settled = false
      let timer: ReturnType<typeof setTimeout> | undefined
      const settle = (outcome: { readonly value: A } | undefined) => {
        if (settled) return
        settled = true
        if (timer !== undefined) clearTimeout(timer)
        if (outcome === undefined) {
          breaker.onFailure()
          done(Either.left(unavailable))
        } else {
          breaker.onSuccess()
          done(Either.right(outcome.value))
        }
      }
      // A late reply after failing open is ignored (the request already passed). Failing open
      // needs evidence against Redis: a whole budget interval passed with the timer firing on
      // time (a late timer means this process was busy, not Redis) and not one reply read from
      // Redis in it. Otherwise the wait goes on, interval by interval, up to the hard bound.
      const arm = (delayMs: number) => {
        timer = setTimeout(() => setImmediate(check), delayMs)
      }
      let armedAt = sentAt
      let armedFor = timeoutMs
      // Since when Redis has been silent, on time, as far as this decision has watched.
      let silentSince: number | undefined
      const check = () => {
        if (settled) return
        const now = performance.now()
        if (now - sentAt >= hardTimeoutMs) return settle(undefined)
        const lateBy = now - armedAt - armedFor
        // Any reply read during the last budget interval: Redis is alive and working through a queue.
        const redisAnswering = lastReplyAt > armedAt
        if (lateBy > lagToleranceMs || redisAnswering) silentSince = undefined
        else {
          silentSince ??= armedAt
          if (now - silentSince >= silenceBeforeFailOpenMs) return settle(undefined)
        }
        armedAt = now
        armedFor = Math.min(timeoutMs, Math.max(1, hardTimeoutMs - (now - sentAt)))
        arm(armedFor)
      }
      arm(timeoutMs)
      run(sha, lua, keys, args).then(
        (reply) => {
          lastReplyAt = performance.now()
          let answer: A
          try {
            answer = read(reply)
          } catch {
            return settle(undefined)
          }
          settle({ value: answer })
        },
        () => settle(undefined)
      )
    }

    const leaseOptions = {
      ...defaultLeaseOptions,
      maxUnits: Math.max(1, options.leaseMaxUnits ?? defaultLeaseOptions.maxUnits)
    }
    const leases = makeLeaseBook({
      ...leaseOptions,
      grant: (key, limit, windowMs, want, done) =>
        judge(GCRA_SHA, GCRA_LUA, [key], [limit, windowMs, want], (reply) => toGrant(reply, limit), done)
    })

    const consumeNow: NonNullable<RateLimiterShape["consumeNow"]> = (orgId, policy, done) => {
      const limit = Math.max(1, Math.floor(policy.limit))
      const windowMs = Math.max(1, Math.floor(policy.windowMs))
      const key = rateLimitKey(prefix, orgId)
      const want = leaseUnits(limit, windowMs, leaseOptions)
      if (want > 1) leases.take(key, limit, windowMs, want, done)
      else judge(GCRA_SHA, GCRA_LUA, [key], [limit, windowMs], (reply) => toDecision(reply, limit), done)
    }

    const consume = (orgId: OrgId, policy: RateLimitPolicy): Effect.Effect<RateLimitDecision, RateLimiterUnavailable> =>
      Effect.async<RateLimitDecision, RateLimiterUnavailable>((resume) => consumeNow(orgId, policy, resume))

    const usageKeys = (orgId: string, month: string) => [
      `${prefix}tokens:{${orgId}}`,
      // A hash since the count is rebuilt from the ledger (`spend:` held a string before).
      `${prefix}month:{${orgId}}:${month}`
    ]
    const reserveArgs = (r: UsageReservation) =>
      [
        "reserve",
        Math.ceil(r.tokens),
        r.tokensPerMinute ?? 0,
        Math.ceil(r.costMicroUsd),
        r.monthlyBudgetMicroUsd ?? -1,
        SPEND_COUNT_IDLE_MS
      ] as const
    const settleArgs = (
      r: UsageReservation,
      actual: { readonly tokens: number; readonly costMicroUsd: number },
      count: unknown
    ) =>
      [
        "settle",
        r.tokensPerMinute === null
          ? 0
          : Math.ceil(actual.tokens) - tokensToCount(Math.ceil(r.tokens), r.tokensPerMinute),
        r.tokensPerMinute ?? 0,
        Math.ceil(actual.costMicroUsd) - Math.ceil(r.costMicroUsd),
        -1,
        SPEND_COUNT_IDLE_MS,
        typeof count === "string" ? count : "",
        Math.ceil(actual.costMicroUsd)
      ] as const
    const nothing = () => undefined
    const counter: SpendCounter = {
      reserve: (r, done) =>
        judge(
          USAGE_SHA,
          USAGE_LUA,
          usageKeys(r.orgId, r.month),
          reserveArgs(r),
          (reply) => toCounterAnswer(reply, r.tokensPerMinute),
          done
        ),
      seed: (orgId, month, spent, done) =>
        judge(
          USAGE_SHA,
          USAGE_LUA,
          usageKeys(orgId, month),
          ["seed", Math.ceil(spent), randomUUID(), SPEND_COUNT_IDLE_MS],
          nothing,
          done
        ),
      settle: (r, actual, count, done) =>
        judge(USAGE_SHA, USAGE_LUA, usageKeys(r.orgId, r.month), settleArgs(r, actual, count), nothing, done),
      spent: (orgId, month) =>
        Effect.tryPromise({
          try: () => client.hget(usageKeys(orgId, month)[1] as string, "s"),
          catch: () => unavailable
        }).pipe(Effect.map((v) => Number(v ?? 0)))
    }
    const usage = yield* makeSeededUsageLimiter(counter, ledger)

    const ping = Effect.async<boolean>((resume) => {
      let settled = false
      const settle = (ok: boolean) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resume(Effect.succeed(ok))
      }
      const timer = setTimeout(() => settle(false), Math.max(100, timeoutMs * 4))
      client.ping().then(
        (r) => settle(r === "PONG"),
        () => settle(false)
      )
    })

    return { consume, consumeNow, usage, ping, circuit: breaker.state }
  })

/** `RateLimiter` and `UsageLimiter` (and their health hooks) backed by one Redis connection through ioredis. */
export const RateLimiterRedis = (
  options: RateLimiterRedisOptions
): Layer.Layer<RateLimiter | UsageLimiter | RateLimiterRedisHealth, never, UsageLedger> =>
  Layer.scopedContext(
    Effect.map(makeRateLimiterRedis(options), (limiter) =>
      Context.make(RateLimiter, RateLimiter.of({ consume: limiter.consume, consumeNow: limiter.consumeNow })).pipe(
        Context.add(UsageLimiter, limiter.usage),
        Context.add(RateLimiterRedisHealth, { ping: limiter.ping, circuit: limiter.circuit })
      )
    )
  )
