import { AuthGrpcServer, AuthGrpcServerLive } from "@ibex/auth-adapter-grpc"
import { type OrgId, OrgLimits, OrgLimitsStore, UsageStore } from "@ibex/domain"
import { ProxyServer } from "@ibex/proxy-adapter-http"
import { setupOrg } from "@ibex/testkit"
import { describeRealInfra } from "@ibex/testkit/infra"
import { type MockUpstream, startMockUpstream } from "@ibex/testkit/upstream"
import { Effect, Layer, Logger, ManagedRuntime, Redacted } from "effect"
import { afterAll, beforeAll, expect, it } from "vitest"
import { authOnFreshDatabase, meteringProxy } from "./meteringProxy.js"

/**
 * A month's budget outlives the proxy that counted it. The embedded default counts spend in the
 * proxy's memory; a restart (a redeploy, a crash) used to start the month again at zero, so an org
 * could spend its budget twice. The proxy now rebuilds each org's month from auth's stored usage
 * records (GetMonthSpend) the first time it meters that org.
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

onPostgres("a budget across proxy restarts [Postgres + gRPC + HTTP, in-memory counts]", () => {
  it("a restarted proxy rebuilds the month's spend from auth's records: the month stays within the budget", async () => {
    const { database, services } = await authOnFreshDatabase()
    const auth = ManagedRuntime.make(
      AuthGrpcServerLive({ host: "127.0.0.1", port: 0, shutdownTimeoutMs: 200 }).pipe(
        Layer.provideMerge(services),
        Layer.provide(Logger.remove(Logger.defaultLogger))
      )
    )
    const target = (await auth.runPromise(AuthGrpcServer)).address
    // The embedded default's proxy: in-memory counts, records and ledger over gRPC to auth.
    const startProxy = async () => {
      const proxy = meteringProxy(target, mock.url)
      return { url: (await proxy.runPromise(ProxyServer)).url, stop: () => proxy.dispose() }
    }
    const org = await auth.runPromise(setupOrg({ rateLimitPerMinute: 1_000_000 }))
    const orgId = org.orgId as OrgId
    const send = (url: string) =>
      fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${Redacted.value(org.token)}`,
          "x-ibex-agent-id": org.agentId,
          "content-type": "application/json"
        },
        body: JSON.stringify({ model: "m", max_tokens: 10, messages: [{ role: "user", content: "one two three" }] })
      }).then((r) => r.status)
    const stored = async (requests: number) => {
      for (let i = 0; i < 100; i++) {
        const totals = await auth.runPromise(
          Effect.flatMap(UsageStore, (s) =>
            s.totals(orgId, { since: new Date(0), until: new Date(Date.now() + 60_000), groupBy: "model" })
          )
        )
        if ((totals[0]?.requests ?? 0) >= requests) return totals[0]?.costMicroUsd ?? 0
        await new Promise((r) => setTimeout(r, 100))
      }
      throw new Error(`fewer than ${requests} records stored`)
    }
    try {
      // One request's cost, then a budget of eight of them.
      const first = await startProxy()
      expect(await send(first.url)).toBe(200)
      await first.stop()
      const unit = await stored(1)
      expect(unit).toBeGreaterThan(0)
      const budget = unit * 8
      await auth.runPromise(
        Effect.flatMap(OrgLimitsStore, (s) =>
          s.set(orgId, new OrgLimits({ tokensPerMinute: null, monthlyBudgetMicroUsd: budget }))
        )
      )
      const second = await startProxy()
      for (let i = 0; i < 3; i++) expect(await send(second.url)).toBe(200)
      await second.stop()
      expect(await stored(4)).toBe(unit * 4)
      // A fresh process: no counts in memory. What is left of the budget is four requests' worth
      // (a reservation, its prompt's bound plus max_tokens, is about two: one or two at a time fit).
      const third = await startProxy()
      const statuses = await Promise.all(Array.from({ length: 20 }, () => send(third.url)))
      const ok = statuses.filter((s) => s === 200).length
      expect(ok).toBeGreaterThanOrEqual(1)
      expect(ok).toBeLessThanOrEqual(4)
      expect(statuses.filter((s) => s === 429)).toHaveLength(20 - ok)
      await third.stop()
      expect(await stored(4 + ok)).toBeLessThanOrEqual(budget)
    } finally {
      await auth.dispose()
      await database.drop()
    }
  }, 120_000)
})
