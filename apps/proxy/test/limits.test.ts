import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import {
  AuthGateway,
  AuthInvalidation,
  authGatewayFromChecks,
  decodeRoutingConfig,
  type OrgId,
  Permissions,
  type Principal,
  RateLimiterMemory,
  RoutingStatic,
  type TokenId,
  UsageLedger,
  UsageLimiter,
  type UsageRecord,
  UsageSink
} from "@ibex/domain"
import { ProviderGatewayLive } from "@ibex/providers"
import { AuthGatewayCached, ProxyConfig, ProxyHttpLive, ProxyServer } from "@ibex/proxy-adapter-http"
import { makeRateLimiterRedis } from "@ibex/ratelimit-redis"
import { describeRealInfra } from "@ibex/testkit/infra"
import { ledgerOf, type MockUpstream, startMockUpstream } from "@ibex/testkit/upstream"
import { Effect, Either, Layer, Logger, ManagedRuntime, Schedule, Stream } from "effect"
import { Redis } from "ioredis"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

/**
 * Token limits and budgets at concurrency over two proxies sharing one Redis: the production
 * proxy edge and Redis limiter, the real provider adapters and the mock provider; only auth is
 * scripted (it hands out the org's limits, which is all this test is about). Each row runs the
 * long way (every request in a fiber, auth asked each time) and warm (the proxy's cache holds
 * auth's answer, no tracing: chat/warmChat.ts reserves and settles through the limiter's callbacks).
 */

const redisUrl = process.env.REDIS_URL
const available = redisUrl !== undefined

let mock: MockUpstream

/** Bills as gpt-4o does a high-detail image: 1,105 prompt tokens per image part, whatever its URL's length. */
const IMAGE_TOKENS = 1_105
let vision: { url: string; close: () => Promise<void> }
const startVision = () =>
  new Promise<typeof vision>((resolve) => {
    const server = createServer((req, res) => {
      let raw = ""
      req.on("data", (c) => {
        raw += c
      })
      req.on("end", () => {
        const body = JSON.parse(raw) as { messages: Array<{ content: unknown }> }
        const images = body.messages
          .flatMap((m) => (Array.isArray(m.content) ? m.content : []))
          .filter((p: { type?: string }) => p.type === "image_url").length
        const usage = { prompt_tokens: 10 + images * IMAGE_TOKENS, completion_tokens: 5 }
        res.writeHead(200, { "content-type": "application/json" })
        res.end(
          JSON.stringify({
            id: "chatcmpl-v",
            object: "chat.completion",
            created: 0,
            model: "v",
            choices: [{ index: 0, message: { role: "assistant", content: "a cat" }, finish_reason: "stop" }],
            usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens }
          })
        )
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port
      resolve({ url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) })
    })
  })
const prefix = `ibex:limits-test:${crypto.randomUUID()}:`

const principal = (org: string, limits: Pick<Principal, "tokensPerMinute" | "monthlyBudgetMicroUsd">): Principal => ({
  orgId: org as OrgId,
  tokenId: "0190a0b0-0000-7000-8000-0000000000f1" as TokenId,
  permissions: Permissions.all,
  expiresAt: null,
  rateLimitPerMinute: 1_000_000,
  ...limits
})

const token = `ibex_pat_0190a0b0-0000-7000-8000-0000000000f1_${"A".repeat(43)}`
const agent = "0190a0b0-0000-7000-8000-0000000000a1"
const authCalls = { count: 0 }

/** Auth handing out `who`; warm: behind the proxy's cache, with auth's heartbeats (else never trusted). */
const scriptedAuth = (who: Principal, warm: boolean): Layer.Layer<AuthGateway> => {
  const checks = authGatewayFromChecks({
    validateToken: () =>
      Effect.sync(() => {
        authCalls.count++
        return who
      }),
    verifyAgent: () => Effect.void,
    ...(warm
      ? {
          invalidations: Stream.repeatEffectWithSchedule(
            Effect.succeed(AuthInvalidation.Heartbeat()),
            Schedule.spaced("10 millis")
          )
        }
      : {})
  })
  const remote = Layer.succeed(AuthGateway, checks)
  return warm ? AuthGatewayCached().pipe(Layer.provide(remote)) : remote
}

/** One proxy: its own Redis connection (limiter instance), the shared mock provider, a collecting sink. */
const startProxy = async (
  who: Principal,
  records: Array<UsageRecord>,
  warm = false
): Promise<{ url: string; close: () => Promise<void> }> => {
  const table = Either.getOrThrow(
    decodeRoutingConfig(
      {
        providers: [
          { id: "mock", kind: "openai", base_url: `${mock.url}/v1` },
          { id: "vision", kind: "openai", base_url: `${vision.url}/v1` }
        ],
        models: [
          {
            name: "m",
            targets: [{ provider: "mock", model: "m" }],
            pricing: { input_per_million: 1, output_per_million: 1 }
          },
          {
            name: "v",
            targets: [{ provider: "vision", model: "v" }],
            pricing: { input_per_million: 1, output_per_million: 1 }
          }
        ]
      },
      () => undefined
    )
  )
  const runtime = ManagedRuntime.make(
    ProxyHttpLive.pipe(
      Layer.provide(
        Layer.mergeAll(
          scriptedAuth(who, warm),
          RateLimiterMemory,
          Layer.scoped(
            UsageLimiter,
            Effect.map(
              makeRateLimiterRedis({ url: redisUrl ?? "", keyPrefix: prefix, commandTimeoutMs: 250 }).pipe(
                Effect.provideService(UsageLedger, ledgerOf(records))
              ),
              (l) => l.usage
            )
          ),
          RoutingStatic(table),
          ProviderGatewayLive,
          Layer.succeed(UsageSink, { offer: (r) => records.push(r) }),
          ProxyConfig.layer({ port: 0, host: "127.0.0.1", processMetrics: false, accessLog: false, tracing: !warm })
        )
      ),
      Layer.provide(Logger.remove(Logger.defaultLogger))
    )
  )
  const server = await runtime.runPromise(ProxyServer)
  if (warm) {
    // Auth's answer cached by a probe (it reserves nothing), then trusted once heartbeats arrive.
    const probe = await fetch(`${server.url}/v1/internal/auth-probe`, {
      headers: { authorization: `Bearer ${token}`, "x-ibex-agent-id": agent }
    })
    expect(probe.status).toBe(200)
    await new Promise((r) => setTimeout(r, 50))
  }
  return { url: server.url, close: () => runtime.dispose() }
}

beforeAll(async () => {
  mock = await startMockUpstream()
  vision = await startVision()
})
afterAll(async () => {
  await mock?.close()
  await vision?.close()
  if (available) {
    const r = new Redis(redisUrl)
    const keys = await r.keys(`${prefix}*`)
    if (keys.length > 0) await r.del(...keys)
    r.disconnect()
  }
})

/** Two proxies on one Redis, for the duration of `body`: closed however it ends. */
const withTwoProxies = async (
  who: Principal,
  records: Array<UsageRecord>,
  warm: boolean,
  body: (a: { readonly url: string }, b: { readonly url: string }) => Promise<void>
) => {
  const [a, b] = [await startProxy(who, records, warm), await startProxy(who, records, warm)]
  try {
    await body(a, b)
  } finally {
    await a.close()
    await b.close()
  }
}

const body = JSON.stringify({ model: "m", max_tokens: 10, messages: [{ role: "user", content: "one two three" }] })

const fire = (urls: ReadonlyArray<string>, n: number) =>
  Promise.all(
    Array.from({ length: n }, (_, i) =>
      fetch(`${urls[i % urls.length]}/v1/chat/completions`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "x-ibex-agent-id": agent,
          "content-type": "application/json"
        },
        body
      }).then(async (r) => ({
        status: r.status,
        headers: r.headers,
        json: (await r.json()) as { error: { code: string; type: string } }
      }))
    )
  )

/** What one request costs and uses, measured through a proxy with no limits. */
const oneRequest = async () => {
  const records: Array<UsageRecord> = []
  const p = await startProxy(
    principal(crypto.randomUUID(), { tokensPerMinute: null, monthlyBudgetMicroUsd: null }),
    records
  )
  try {
    const [r] = await fire([p.url], 1)
    expect(r?.status).toBe(200)
    const rec = records[0] as UsageRecord
    return { cost: rec.costMicroUsd, tokens: rec.promptTokens + rec.completionTokens }
  } finally {
    await p.close()
  }
}

describeRealInfra(available, "REDIS_URL is not set")("limits at concurrency, two proxies, one Redis", () => {
  describe.each([
    { warm: false, path: "the long way" },
    { warm: true, path: "warm, no request fiber" }
  ])("$path", ({ warm }) => {
    it("a budget that allows 10 requests: 100 in parallel over 2 proxies admit at most 10, spend stays within it", async () => {
      const unit = await oneRequest()
      const budget = unit.cost * 10
      const records: Array<UsageRecord> = []
      const who = principal(crypto.randomUUID(), { tokensPerMinute: null, monthlyBudgetMicroUsd: budget })
      await withTwoProxies(who, records, warm, async (a, b) => {
        const asked = authCalls.count
        const results = await fire([a.url, b.url], 100)
        if (warm) expect(authCalls.count, "answered from the cache").toBe(asked)
        const ok = results.filter((r) => r.status === 200)
        const refused = results.filter((r) => r.status === 429)
        expect(ok.length).toBeGreaterThanOrEqual(1)
        expect(ok.length).toBeLessThanOrEqual(10)
        expect(ok.length + refused.length).toBe(100)
        for (const r of refused) {
          expect(r.json.error).toMatchObject({ code: "BUDGET_EXCEEDED", type: "insufficient_quota" })
          // The OpenAI SDKs retry a 429 unless told not to; the same request would be refused again.
          expect(r.headers.get("x-should-retry")).toBe("false")
        }
        await new Promise((r) => setTimeout(r, 100))
        const spent = records.reduce((s, r) => s + r.costMicroUsd, 0)
        expect(spent).toBeLessThanOrEqual(budget)
        expect(records).toHaveLength(ok.length)
      })
    }, 60_000)

    it("Redis restarted empty mid-month: the budget's count is rebuilt from the usage records, and the month's spend stays within it", async () => {
      const unit = await oneRequest()
      const budget = unit.cost * 10
      const records: Array<UsageRecord> = []
      const who = principal(crypto.randomUUID(), { tokensPerMinute: null, monthlyBudgetMicroUsd: budget })
      await withTwoProxies(who, records, warm, async (a, b) => {
        for (let i = 0; i < 6; i++) expect((await fire([i % 2 === 0 ? a.url : b.url], 1))[0]?.status).toBe(200)
        await new Promise((r) => setTimeout(r, 100))
        expect(records).toHaveLength(6)
        // Every count gone, as after a Redis restart without persistence.
        const r = new Redis(redisUrl ?? "")
        const keys = await r.keys(`${prefix}*`)
        if (keys.length > 0) await r.del(...keys)
        r.disconnect()
        const results = await fire([a.url, b.url], 40)
        const ok = results.filter((x) => x.status === 200)
        // Four requests' worth is left; a reservation (prompt bound plus max_tokens) is about two.
        expect(ok.length).toBeGreaterThanOrEqual(1)
        expect(ok.length).toBeLessThanOrEqual(4)
        expect(results.filter((x) => x.status === 429).length).toBe(40 - ok.length)
        await new Promise((r) => setTimeout(r, 100))
        expect(records.reduce((sum, x) => sum + x.costMicroUsd, 0)).toBeLessThanOrEqual(budget)
      })
    }, 60_000)

    it("images sent by URL: a budget that allows 3 such requests admits at most 3 of 10 in parallel (an image reserves the model's image bound, not its URL's bytes)", async () => {
      const cost = 10 + IMAGE_TOKENS + 5
      const budget = cost * 3
      const records: Array<UsageRecord> = []
      const who = principal(crypto.randomUUID(), { tokensPerMinute: null, monthlyBudgetMicroUsd: budget })
      await withTwoProxies(who, records, warm, async (a, b) => {
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            fetch(`${[a.url, b.url][i % 2]}/v1/chat/completions`, {
              method: "POST",
              headers: {
                authorization: `Bearer ${token}`,
                "x-ibex-agent-id": agent,
                "content-type": "application/json"
              },
              body: JSON.stringify({
                model: "v",
                max_tokens: 5,
                messages: [
                  {
                    role: "user",
                    content: [
                      { type: "text", text: "what is this?" },
                      { type: "image_url", image_url: { url: "https://example.com/cat.png", detail: "high" } }
                    ]
                  }
                ]
              })
            }).then((r) => r.status)
          )
        )
        const ok = results.filter((s) => s === 200).length
        expect(ok).toBeGreaterThanOrEqual(1)
        expect(ok + results.filter((s) => s === 429).length).toBe(10)
        await new Promise((r) => setTimeout(r, 100))
        expect(records.reduce((sum, r) => sum + r.costMicroUsd, 0)).toBeLessThanOrEqual(budget)
      })
    }, 60_000)

    it("a token limit that allows 10 requests a minute: 100 in parallel over 2 proxies admit at most 10", async () => {
      const unit = await oneRequest()
      // The reservation (prompt bound + max_tokens) is larger than what a request uses: admission
      // is bounded by reservations in flight, so at most 10 even before any settles.
      const records: Array<UsageRecord> = []
      const who = principal(crypto.randomUUID(), { tokensPerMinute: unit.tokens * 10, monthlyBudgetMicroUsd: null })
      await withTwoProxies(who, records, warm, async (a, b) => {
        const asked = authCalls.count
        const results = await fire([a.url, b.url], 100)
        if (warm) expect(authCalls.count, "answered from the cache").toBe(asked)
        const ok = results.filter((r) => r.status === 200)
        const refused = results.filter((r) => r.status === 429)
        expect(ok.length).toBeGreaterThanOrEqual(1)
        expect(ok.length).toBeLessThanOrEqual(10)
        expect(ok.length + refused.length).toBe(100)
        const first = refused[0]
        expect(first?.json.error.code).toBe("TOKEN_RATE_LIMITED")
        expect(Number(first?.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
        expect(first?.headers.get("x-ratelimit-limit-tokens")).toBe(String(unit.tokens * 10))
        await new Promise((r) => setTimeout(r, 100))
        const used = records.reduce((s, r) => s + r.promptTokens + r.completionTokens, 0)
        expect(used).toBeLessThanOrEqual(unit.tokens * 10)
      })
    }, 60_000)
  })
})
