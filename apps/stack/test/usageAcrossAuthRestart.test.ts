import { AuthGrpcServerLive } from "@ibex/auth-adapter-grpc"
import { type OrgId, UsageStore } from "@ibex/domain"
import { ProxyServer } from "@ibex/proxy-adapter-http"
import { setupOrg } from "@ibex/testkit"
import { freePort } from "@ibex/testkit/faults"
import { describeRealInfra } from "@ibex/testkit/infra"
import { type MockUpstream, startMockUpstream } from "@ibex/testkit/upstream"
import { Effect, Exit, Layer, Logger, ManagedRuntime, Redacted, Scope } from "effect"
import { afterAll, beforeAll, expect, it } from "vitest"
import { authOnFreshDatabase, meteringProxy } from "./meteringProxy.js"

/**
 * Issue 13: records survive an auth restart. The proxy ships usage records to auth in batches
 * from a bounded buffer; auth is stopped in the middle of a run (records still buffered, and
 * more made while it is down are refused at the door, since auth also authorizes), started
 * again, and the totals stored in Postgres equal exactly the sums the provider reported.
 */
const available = process.env.DATABASE_URL !== undefined
const onPostgres = describeRealInfra(available, "needs DATABASE_URL (Postgres); CI sets it")

let mock: MockUpstream
beforeAll(async () => {
  mock = await startMockUpstream()
})
afterAll(async () => {
  await mock?.close()
})

onPostgres("usage records across an auth restart [Postgres + gRPC + HTTP]", () => {
  it("stored totals equal the sums the provider reported", async () => {
    const { database, services: onDatabase } = await authOnFreshDatabase()
    const services = ManagedRuntime.make(onDatabase.pipe(Layer.provide(Logger.remove(Logger.defaultLogger))))
    const port = await freePort()
    let authScope: Scope.CloseableScope | undefined
    const startAuth = async () => {
      const scope = Effect.runSync(Scope.make())
      await services.runPromise(
        Layer.buildWithScope(AuthGrpcServerLive({ host: "127.0.0.1", port, shutdownTimeoutMs: 200 }), scope)
      )
      authScope = scope
    }
    const stopAuth = async () => {
      if (authScope !== undefined) await Effect.runPromise(Scope.close(authScope, Exit.void))
      authScope = undefined
    }
    await startAuth()
    const target = `127.0.0.1:${port}`
    const proxy = meteringProxy(target, mock.url)
    try {
      const url = (await proxy.runPromise(ProxyServer)).url
      const org = await services.runPromise(setupOrg({ rateLimitPerMinute: 1_000_000 }))
      const reported = { requests: 0, prompt: 0, completion: 0 }
      const burst = async (n: number) => {
        const answers = await Promise.all(
          Array.from({ length: n }, (_, i) =>
            fetch(`${url}/v1/chat/completions`, {
              method: "POST",
              headers: {
                authorization: `Bearer ${Redacted.value(org.token)}`,
                "x-ibex-agent-id": org.agentId,
                "content-type": "application/json"
              },
              body: JSON.stringify({
                model: "m",
                messages: [{ role: "user", content: `message ${i} `.repeat(1 + (i % 7)) }]
              })
            }).then(async (r) => ({
              status: r.status,
              body: (await r.json()) as { usage?: { prompt_tokens: number; completion_tokens: number } }
            }))
          )
        )
        for (const a of answers)
          if (a.status === 200 && a.body.usage !== undefined) {
            reported.requests++
            reported.prompt += a.body.usage.prompt_tokens
            reported.completion += a.body.usage.completion_tokens
          }
        return answers.map((a) => a.status)
      }
      expect((await burst(40)).every((s) => s === 200)).toBe(true)
      // Stopped before the shipper's next flush: the last records are still in the proxy's buffer.
      await stopAuth()
      const whileDown = await burst(10)
      expect(whileDown.every((s) => s === 200 || s === 503)).toBe(true)
      await new Promise((r) => setTimeout(r, 1_500))
      await startAuth()
      // Auth is back: the cache warms again, new requests are admitted, the buffer drains.
      for (let i = 0; i < 50; i++) {
        if ((await burst(1))[0] === 200) break
        await new Promise((r) => setTimeout(r, 100))
      }
      expect((await burst(30)).every((s) => s === 200)).toBe(true)

      const totals = async () =>
        services.runPromise(
          Effect.flatMap(UsageStore, (store) =>
            store.totals(org.orgId as OrgId, {
              since: new Date(0),
              until: new Date(Date.now() + 60_000),
              groupBy: "model"
            })
          )
        )
      let stored = await totals()
      for (let i = 0; i < 50 && (stored[0]?.requests ?? 0) < reported.requests; i++) {
        await new Promise((r) => setTimeout(r, 200))
        stored = await totals()
      }
      expect(stored).toHaveLength(1)
      expect(stored[0]).toMatchObject({
        key: "m",
        requests: reported.requests,
        promptTokens: reported.prompt,
        completionTokens: reported.completion,
        estimatedRequests: 0
      })
      expect(stored[0]?.costMicroUsd).toBe(reported.prompt * 2 + reported.completion * 8)
    } finally {
      await proxy.dispose()
      await stopAuth()
      await services.dispose()
      await database.drop()
    }
  }, 120_000)
})
