import { randomBytes, randomUUID } from "node:crypto"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { AuthConfig, authServicesOnDatabase } from "@ibex/app-auth"
import { ProxyAuthGatewayLive } from "@ibex/app-proxy"
import { AuthClient, AuthGrpcServer, AuthGrpcServerLive, DEFAULT_DEADLINE_MS } from "@ibex/auth-adapter-grpc"
import { InvalidationHub, issueToken } from "@ibex/auth-core"
import { jsonLoggerTo, Permissions, type TokenId } from "@ibex/domain"
import { migrationsKey, runMigrations } from "@ibex/persistence-pg"
import { defaultAuthorizationCacheOptions, ProxyConfig, ProxyHttpLive, ProxyServer } from "@ibex/proxy-adapter-http"
import { RateLimiterRedis } from "@ibex/ratelimit-redis"
import { type FixtureServices, setupOrg, type TestOrgContext } from "@ibex/testkit"
import { type FaultProxy, faultProxy, urlThrough } from "@ibex/testkit/faults"
import { describeRealInfra } from "@ibex/testkit/infra"
import { type ProvisionedDatabase, provisionDatabase } from "@ibex/testkit/provision"
import { call, errorCode, percentile } from "@ibex/testkit/security"
import { NoForwarding, UsageLedgerEmpty } from "@ibex/testkit/upstream"
import { ConfigProvider, Effect, Layer, ManagedRuntime, Redacted } from "effect"
import { afterAll, beforeAll, expect, it } from "vitest"
import { type Load, type LoadResult, startLoad } from "./loadWorker.js"

/**
 * Issue 11, "Done when": revocation with 2 auth instances and 2 proxies under c16 load, ≥ 50
 * trials: p99 from RevokeToken's answer to the first 401 at the other proxy ≤ 100 ms, and no 200
 * for any request sent more than 300 ms after that answer. The same with auth's LISTEN connection
 * silently blackholed, and with the proxy↔auth stream silently blackholed (401 or 503 are both
 * acceptable then; 200 is not).
 *
 * Real Postgres (DATABASE_URL, a fresh database) and Redis (REDIS_URL, own key prefix). Auth 1 and
 * auth 2 are two builds of the production services (each its own pool, validator, LISTEN
 * connection, invalidation hub) with their own gRPC servers; auth 2's LISTEN connection goes
 * through `feedLink`. Proxy 1 dials auth 1; proxy 2 dials auth 2 through `grpcLink`; both are
 * the production composition (ProxyHttpLive over ProxyAuthGatewayLive: the authorization cache in
 * front of gRPC, the production 50 ms deadline; RateLimiterRedis). Sixteen keep-alive clients in a
 * worker thread load proxy 2's auth-probe with valid tokens of another org throughout.
 *
 * A trial: mint a token, warm it on proxy 2 (200), revoke it through auth 1's RevokeToken
 * (proxy 1's AuthClient), then poll proxy 2 back to back with it until 400 ms after the answer.
 */
const TRIALS = 50
const LOAD_CLIENTS = 16
const P99_MS = 100
const SLA_MS = 300
const POLL_UNTIL_MS = 400
const probe = "/v1/internal/auth-probe"
const WARM_WITHIN_MS = 3_000
const PHASE_WITHIN_MS = 240_000

const onRealStack = describeRealInfra(
  process.env.DATABASE_URL !== undefined && process.env.REDIS_URL !== undefined,
  "edge revocation needs DATABASE_URL (Postgres NOTIFY across instances) and REDIS_URL; CI sets both"
)

const authConfig = Effect.runSync(Effect.withConfigProvider(AuthConfig, ConfigProvider.fromMap(new Map())))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Poll {
  /** ms after RevokeToken's answer. */
  readonly sentAt: number
  readonly answeredAt: number
  readonly status: number
}
interface Trial {
  readonly polls: ReadonlyArray<Poll>
  readonly revokeRpcMs: number
  /** Only in the stream-blackholed phase: proxy 2 answered 200 right after the blackhole (its cache served). */
  readonly cacheServedInSilence?: boolean
}

onRealStack("edge revocation: 2 auth instances, 2 proxies, under c16 load", () => {
  let db: ProvisionedDatabase
  let feedLink: FaultProxy
  let grpcLink: FaultProxy
  let auth1: ManagedRuntime.ManagedRuntime<AuthGrpcServer | InvalidationHub | FixtureServices, unknown>
  let auth2: ManagedRuntime.ManagedRuntime<AuthGrpcServer | InvalidationHub | FixtureServices, unknown>
  let proxy1: ManagedRuntime.ManagedRuntime<ProxyServer | AuthClient, unknown>
  let proxy2: ManagedRuntime.ManagedRuntime<ProxyServer | AuthClient, unknown>
  let proxy1Url: string
  let proxy2Url: string
  let org: TestOrgContext
  let load: Load | undefined
  let loadResult: LoadResult | undefined
  let logLines = 0
  // The proxies, both auth instances and the poller share this event loop: its delay is printed with each phase.
  const lag = monitorEventLoopDelay({ resolution: 10 })
  lag.enable()
  const logger = jsonLoggerTo((line) => {
    logLines++
    if (process.env.EDGE_DEBUG === "1") console.info(line)
  })

  const authInstance = (feedUrl: string | undefined) =>
    ManagedRuntime.make(
      AuthGrpcServerLive({ host: "127.0.0.1", port: 0, shutdownTimeoutMs: 200 }).pipe(
        Layer.provideMerge(
          authServicesOnDatabase(
            authConfig,
            { url: Redacted.make(db.appUrl), appRole: db.appRole, maxConnections: 4 },
            pepper,
            feedUrl === undefined ? {} : { feedUrl: Redacted.make(feedUrl) }
          )
        ),
        Layer.provide(logger)
      )
    )
  // Every auth instance of one deployment shares the pepper.
  const pepper = Redacted.make(randomBytes(32).toString("base64url"))
  const keyPrefix = `ibex:rl:edge-${randomUUID().slice(0, 8)}:`

  const proxyTo = (target: string) =>
    ManagedRuntime.make(
      ProxyHttpLive.pipe(
        Layer.provideMerge(
          Layer.mergeAll(
            ProxyAuthGatewayLive({ target, deadlineMs: DEFAULT_DEADLINE_MS }, defaultAuthorizationCacheOptions),
            RateLimiterRedis({ url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379", keyPrefix }).pipe(
              Layer.provide(UsageLedgerEmpty)
            ),
            NoForwarding,
            ProxyConfig.layer({ port: 0, host: "127.0.0.1", processMetrics: false, accessLog: false })
          )
        ),
        Layer.provide(logger)
      )
    )

  beforeAll(async () => {
    db = await provisionDatabase({
      migrations: { key: migrationsKey(), migrate: (url) => runMigrations(url) },
      backend: "postgres"
    })
    const pg = new URL(db.appUrl)
    feedLink = await faultProxy(pg.hostname, Number(pg.port || 5432))
    auth1 = authInstance(undefined)
    auth2 = authInstance(urlThrough(db.appUrl, feedLink))
    const [server1, server2] = await Promise.all([auth1.runPromise(AuthGrpcServer), auth2.runPromise(AuthGrpcServer)])
    grpcLink = await faultProxy("127.0.0.1", server2.port)
    proxy1 = proxyTo(server1.address)
    proxy2 = proxyTo(`${grpcLink.host}:${grpcLink.port}`)
    proxy2Url = (await proxy2.runPromise(ProxyServer)).url
    proxy1Url = (await proxy1.runPromise(ProxyServer)).url

    org = await auth1.runPromise(setupOrg({ rateLimitPerMinute: 100_000_000 }))
    const loadOrg = await auth1.runPromise(setupOrg({ rateLimitPerMinute: 100_000_000 }))
    // Both proxies answer before the load starts (channels open, caches subscribed).
    for (const [runtime, token, agent] of [
      [proxy1, org.tokens.full.token, org.agentId],
      [proxy2, loadOrg.tokens.full.token, loadOrg.agentId]
    ] as const) {
      const url = (await runtime.runPromise(ProxyServer)).url
      let status = 0
      for (let i = 0; i < 100 && status !== 200; i++) {
        status = (await call(url, { path: probe, token: Redacted.value(token), agentId: agent })).status
        if (status !== 200) await sleep(50)
      }
      expect(status).toBe(200)
    }
    load = startLoad({
      url: new URL(probe, proxy2Url).toString(),
      headers: {
        authorization: `Bearer ${Redacted.value(loadOrg.tokens.full.token)}`,
        "x-ibex-agent-id": loadOrg.agentId
      },
      concurrency: LOAD_CLIENTS,
      maxRequests: 5_000_000,
      maxMs: 15 * 60_000
    })
  }, 120_000)

  afterAll(async () => {
    lag.disable()
    loadResult = await load?.stop()
    if (loadResult !== undefined) {
      const rps = (loadResult.sent / loadResult.ms) * 1_000
      console.info(
        `[edge revocation] background load on proxy 2: ${loadResult.sent} requests in ${(loadResult.ms / 1_000).toFixed(1)} s (${rps.toFixed(0)} req/s at c${LOAD_CLIENTS}), statuses ${JSON.stringify(loadResult.statuses)}; ${logLines} log lines`
      )
    }
    grpcLink?.restore()
    feedLink?.restore()
    await Promise.all([proxy1?.dispose(), proxy2?.dispose()])
    await Promise.all([auth1?.dispose(), auth2?.dispose()])
    await grpcLink?.close()
    await feedLink?.close()
    await db?.drop()
  }, 60_000)

  const mint = async () => {
    const created = await auth1.runPromise(
      issueToken({
        orgId: org.orgId,
        name: `edge-${randomUUID().slice(0, 8)}`,
        permissions: Permissions.all,
        expiresAt: null,
        createdBy: null
      })
    )
    return { id: created.info.id, token: Redacted.value(created.token) }
  }
  const probeWith = (url: string, token: string) => call(url, { path: probe, token, agentId: org.agentId })

  /**
   * Proxy 2 answers 200 for the token: retried for up to `withinMs` (under load a miss can exceed
   * the 50 ms budget and answer 503). Returns the refusals seen when it never did.
   */
  const warm = async (token: string, withinMs = WARM_WITHIN_MS): Promise<{ ok: boolean; seen: Array<string> }> => {
    const seen: Array<string> = []
    const until = performance.now() + withinMs
    for (let i = 0; i < 1_000 && performance.now() < until; i++) {
      const o = await probeWith(proxy2Url, token)
      if (o.status === 200) {
        // Once more: from proxy 2's cache when it is trusted (not asserted: it only helps the cache fill).
        await probeWith(proxy2Url, token)
        return { ok: true, seen }
      }
      seen.push(`${o.status} ${errorCode(o)}`)
      await sleep(20)
    }
    return { ok: false, seen }
  }

  /** Revoke through auth 1, then poll proxy 2 back to back until POLL_UNTIL_MS after the answer. */
  const revokeAndPoll = async (id: TokenId | string, token: string): Promise<Omit<Trial, "cacheServedInSilence">> => {
    const started = performance.now()
    await proxy1.runPromise(
      Effect.flatMap(AuthClient, (c) => c.revokeToken(Redacted.make(Redacted.value(org.tokens.full.token)), id))
    )
    const answered = performance.now()
    const polls: Array<Poll> = []
    for (let i = 0; i < 10_000 && performance.now() - answered < POLL_UNTIL_MS; i++) {
      const sentAt = performance.now() - answered
      const o = await probeWith(proxy2Url, token)
      polls.push({ sentAt, answeredAt: performance.now() - answered, status: o.status })
    }
    return { polls, revokeRpcMs: answered - started }
  }

  const judge = (phase: string, trials: ReadonlyArray<Trial>, refusals: ReadonlyArray<number>) => {
    const firstRefusal = (t: Trial) =>
      t.polls.find((p) => refusals.includes(p.status))?.answeredAt ?? Number.POSITIVE_INFINITY
    const latencies = trials.map(firstRefusal)
    const late200 = trials.flatMap((t, i) =>
      t.polls
        .filter((p) => p.status === 200 && p.sentAt > SLA_MS)
        .map((p) => `trial ${i}: 200 sent at +${p.sentAt.toFixed(0)} ms`)
    )
    // 503 (auth's 50 ms budget missed on a loaded machine) is never a stale answer: reported, allowed.
    const unexpected = trials.flatMap((t, i) =>
      t.polls
        .filter((p) => p.status !== 200 && p.status !== 503 && !refusals.includes(p.status))
        .map((p) => `trial ${i}: ${p.status} at +${p.sentAt.toFixed(0)} ms`)
    )
    const statuses: Record<string, number> = {}
    for (const t of trials) for (const p of t.polls) statuses[p.status] = (statuses[p.status] ?? 0) + 1
    const firstAny = trials.map(
      (t) => t.polls.find((p) => p.status === 401 || p.status === 503)?.answeredAt ?? Number.POSITIVE_INFINITY
    )
    const last200 = Math.max(0, ...trials.flatMap((t) => t.polls.filter((p) => p.status === 200).map((p) => p.sentAt)))
    console.info(
      `[edge revocation] ${phase}: ${trials.length} trials, RevokeToken answer → first ${refusals.join("/")} at proxy 2: ` +
        `p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms; ` +
        `(first 401 or 503: p50 ${percentile(firstAny, 50).toFixed(1)} ms, p99 ${percentile(firstAny, 99).toFixed(1)} ms); ` +
        `trials with no ${refusals.join("/")} within ${POLL_UNTIL_MS} ms: ${latencies.filter((l) => l === Number.POSITIVE_INFINITY).length}; ` +
        `latest 200 sent at +${last200.toFixed(1)} ms; this process's event-loop delay p99 ${(lag.percentile(99) / 1e6).toFixed(1)} ms, max ${(lag.max / 1e6).toFixed(1)} ms; RevokeToken RPC p50 ${percentile(
          trials.map((t) => t.revokeRpcMs),
          50
        ).toFixed(1)} ms; polls by status ${JSON.stringify(statuses)}`
    )
    return { latencies, late200, unexpected }
  }

  /**
   * Trials until TRIALS of them were warmed and measured (at most 2 × TRIALS attempts, bounded in
   * time). A token proxy 2 never answered 200 for is not a trial; how many there were is printed.
   */
  const runTrials = async (
    phase: string,
    hooks: {
      readonly beforeRevoke?: (token: string) => Promise<boolean | undefined>
      readonly afterRevoke?: (token: string) => Promise<void>
      readonly afterTrial?: () => Promise<void>
    } = {},
    count = TRIALS
  ) => {
    lag.reset()
    const trials: Array<Trial> = []
    let unwarmed = 0
    const refusalsSeen: Record<string, number> = {}
    const until = performance.now() + PHASE_WITHIN_MS
    for (let attempt = 0; attempt < 2 * count && trials.length < count && performance.now() < until; attempt++) {
      const { id, token } = await mint()
      const warmed = await warm(token)
      if (!warmed.ok) {
        unwarmed++
        for (const r of warmed.seen) refusalsSeen[r] = (refusalsSeen[r] ?? 0) + 1
        await hooks.afterTrial?.()
        continue
      }
      try {
        const cacheServedInSilence = await hooks.beforeRevoke?.(token)
        const result = await revokeAndPoll(id, token)
        await hooks.afterRevoke?.(token)
        trials.push(cacheServedInSilence === undefined ? result : { ...result, cacheServedInSilence })
      } finally {
        await hooks.afterTrial?.()
      }
    }
    console.info(
      `[edge revocation] ${phase}: ${trials.length} trials measured; ${unwarmed} tokens proxy 2 never answered 200 for within ${WARM_WITHIN_MS} ms (refusals seen while warming: ${JSON.stringify(refusalsSeen)})`
    )
    return { trials, unwarmed }
  }

  it(`healthy: p99 to the first 401 ≤ ${P99_MS} ms and no 200 sent > ${SLA_MS} ms after RevokeToken's answer (${TRIALS} trials)`, async () => {
    expect(await auth2.runPromise(Effect.flatMap(InvalidationHub, (h) => h.trusted))).toBe(true)
    // One unmeasured trial warms the path up (first revoke, first notice).
    await runTrials("healthy (warm-up trial, not counted)", {}, 1)
    const atProxy1: Array<number> = []
    const { trials } = await runTrials("healthy", {
      // Proxy 1 (auth 1, the revoking instance) refuses it too (past any 503 of a missed 50 ms budget).
      afterRevoke: async (token) => {
        let status = 503
        for (let i = 0; i < 20 && status === 503; i++) status = (await probeWith(proxy1Url, token)).status
        atProxy1.push(status)
      }
    })
    const { latencies, late200, unexpected } = judge("healthy", trials, [401])
    expect(atProxy1.filter((status) => status !== 401)).toEqual([])
    expect(late200).toEqual([])
    expect(unexpected).toEqual([])
    expect(trials.length).toBe(TRIALS)
    expect(percentile(latencies, 99)).toBeLessThanOrEqual(P99_MS)
  }, 600_000)

  it(`auth 2's LISTEN connection silently blackholed: 401 or 503, no 200 sent > ${SLA_MS} ms after the answer (${TRIALS} trials)`, async () => {
    feedLink.blackhole()
    try {
      // Auth 2 notices the silence by its own heartbeat (no error, no close arrives).
      let untrusted = false
      for (let i = 0; i < 200 && !untrusted; i++) {
        untrusted = !(await auth2.runPromise(Effect.flatMap(InvalidationHub, (h) => h.trusted)))
        if (!untrusted) await sleep(10)
      }
      expect(untrusted, "auth 2 stops trusting its silent LISTEN connection").toBe(true)
      const { trials } = await runTrials("LISTEN blackholed")
      const { late200, unexpected } = judge("LISTEN blackholed", trials, [401, 503])
      expect(late200).toEqual([])
      expect(unexpected).toEqual([])
      expect(trials.length).toBe(TRIALS)
    } finally {
      feedLink.restore()
    }
    // Auth 2 comes back on a new LISTEN connection, without a restart.
    let trusted = false
    for (let i = 0; i < 300 && !trusted; i++) {
      trusted = await auth2.runPromise(Effect.flatMap(InvalidationHub, (h) => h.trusted))
      if (!trusted) await sleep(50)
    }
    expect(trusted, "auth 2 trusts its feed again after the path heals").toBe(true)
  }, 600_000)

  it(`proxy 2 ↔ auth 2 gRPC connection silently blackholed: 401 or 503, no 200 sent > ${SLA_MS} ms after the answer (${TRIALS} trials)`, async () => {
    const { trials } = await runTrials("proxy↔auth stream blackholed", {
      beforeRevoke: async (token) => {
        // The channel may have just reconnected (previous trial's restore): give the cache's
        // subscription its backoff (≤ 1 s) to come back, then serve the token once more.
        await sleep(1_200)
        await probeWith(proxy2Url, token)
        grpcLink.blackhole()
        // Evidence the cache was in play: right after the blackhole, only proxy 2's cache can answer 200.
        return (await probeWith(proxy2Url, token)).status === 200
      },
      afterTrial: async () => grpcLink.restore()
    })
    const cacheServed = trials.filter((t) => t.cacheServedInSilence).length
    console.info(
      `[edge revocation] stream blackholed: proxy 2's cache answered 200 right after the blackhole in ${cacheServed}/${trials.length} trials`
    )
    const { late200, unexpected } = judge("proxy↔auth stream blackholed", trials, [401, 503])
    expect(late200).toEqual([])
    expect(unexpected).toEqual([])
    expect(trials.length).toBe(TRIALS)
    // The trials exercised the cache, not only remote calls into the blackhole.
    expect(cacheServed).toBeGreaterThan(0)
  }, 600_000)
})
