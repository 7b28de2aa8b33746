import {
  AgentNotAuthorized,
  AuthGateway,
  AuthInvalidation,
  authGatewayFromChecks,
  InvalidToken,
  type OrgId,
  Permissions,
  type TokenId
} from "@ibex/domain"
import { call, errorCode, header } from "@ibex/testkit/security"
import { Effect, Layer, Redacted, Schedule, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { AuthGatewayCached } from "../src/index.js"
import { fixedAgent, fixedOrg, startScriptedProxy } from "./harness.js"

// A warm request (the cache holds auth's acceptance) is decided without a request fiber
// (edge/authorize.ts `authorizeWarm`). These rows hold it to the long way's answers.

const tokenId = "0190a0b0-0000-7000-8000-0000000000f1" as TokenId
const token = `ibex_pat_${tokenId}_${"A".repeat(43)}`
const readOnlyToken = `ibex_pat_0190a0b0-0000-7000-8000-0000000000f2_${"A".repeat(43)}`
const otherAgent = "0190a0b0-0000-7000-8000-0000000000a2"
const otherOrg = "0190a0b0-0000-7000-8000-000000000002"
const LIMIT = 10

const remote = { calls: 0 }
const scripted = Layer.succeed(
  AuthGateway,
  authGatewayFromChecks({
    validateToken: (t) =>
      Effect.suspend(() => {
        remote.calls++
        const raw = Redacted.value(t)
        if (raw !== token && raw !== readOnlyToken) return Effect.fail(new InvalidToken({ reason: "unknown" }))
        return Effect.succeed({
          orgId: fixedOrg as OrgId,
          tokenId,
          permissions: raw === token ? Permissions.all : Permissions.of("chat:completions"),
          expiresAt: null,
          rateLimitPerMinute: LIMIT,
          tokensPerMinute: null,
          monthlyBudgetMicroUsd: null
        })
      }),
    verifyAgent: (_org, agent) => (agent === fixedAgent ? Effect.void : Effect.fail(new AgentNotAuthorized())),
    // Auth's heartbeats: without them the cache is never trusted and nothing is warm.
    invalidations: Stream.repeatEffectWithSchedule(
      Effect.succeed(AuthInvalidation.Heartbeat()),
      Schedule.spaced("10 millis")
    )
  })
)

// Without tracing a warm probe has no fiber at all; with it, the request fiber still skips the
// long way (authorize.ts `authorize`). Both run the same rows.
describe.each([
  { tracing: false, path: "no request fiber" },
  { tracing: true, path: "a request fiber, traced" }
])("warm requests ($path)", ({ tracing }) => {
  let env: Awaited<ReturnType<typeof startScriptedProxy>>
  beforeAll(async () => {
    remote.calls = 0
    env = await startScriptedProxy(AuthGatewayCached().pipe(Layer.provide(scripted)), { tracing })
    await new Promise((r) => setTimeout(r, 50))
  })
  afterAll(async () => {
    await env?.close()
  })

  const probe = (auth: string, agent: string, path = "/v1/internal/auth-probe") =>
    call(env.url, { path, headers: { authorization: `Bearer ${auth}`, "x-ibex-agent-id": agent } })

  it("answer the probe as the long way does, count each request once at the limiter, and log one line each", async () => {
    const first = await probe(token, fixedAgent)
    expect(first.status).toBe(200)
    expect(remote.calls).toBe(1)
    const burst = await Promise.all(Array.from({ length: 30 }, () => probe(token, fixedAgent)))
    expect(remote.calls, "a warm burst asks auth nothing").toBe(1)
    const ok = burst.filter((o) => o.status === 200)
    const limited = burst.filter((o) => o.status === 429)
    expect(ok.length, "the limit counts the first request and the burst together").toBe(LIMIT - 1)
    expect(limited.length).toBe(30 - (LIMIT - 1))
    expect(ok.map((o) => Number(header(o, "x-ratelimit-remaining"))).sort((a, b) => a - b)).toEqual(
      Array.from({ length: LIMIT - 1 }, (_, i) => i)
    )
    for (const o of ok) {
      expect(o.json).toMatchObject({ org_id: fixedOrg, agent_id: fixedAgent })
      expect(header(o, "x-request-id")).toMatch(/^[0-9a-f-]{36}$/)
      expect(header(o, "x-trace-id")).toMatch(/^[0-9a-f]{32}$/)
      expect(header(o, "x-ratelimit-limit")).toBe(String(LIMIT))
    }
    for (const o of limited) {
      expect(errorCode(o)).toBe("RATE_LIMITED")
      expect(Number(header(o, "retry-after"))).toBeGreaterThanOrEqual(1)
      expect(header(o, "x-ratelimit-remaining")).toBe("0")
    }
    const lines = env.logs
      .map((l) => (JSON.parse(l) as { message: Record<string, unknown> }).message)
      .filter((l) => typeof l === "object" && l.message === "request" && l.route === "/v1/internal/auth-probe")
    expect(lines.length).toBe(31)
    expect(new Set(lines.map((l) => l.request_id)).size).toBe(31)
    expect(lines.filter((l) => l.status === 429).every((l) => l.error_code === "RATE_LIMITED")).toBe(true)
    expect(env.logs.join("\n")).not.toContain(token)
  })

  it("a limiter that cannot answer fails open on the warm path, as on the long way: 200, no rate-limit headers", async () => {
    expect((await probe(token, fixedAgent)).status, "warm (the limit may be spent by the row above)").not.toBe(401)
    await env.setLimiterAvailable(false)
    try {
      const burst = await Promise.all(Array.from({ length: 5 }, () => probe(token, fixedAgent)))
      for (const o of burst) {
        expect(o.status).toBe(200)
        expect(header(o, "x-ratelimit-limit")).toBeUndefined()
      }
      expect(remote.calls, "still answered from the cache").toBe(1)
    } finally {
      await env.setLimiterAvailable(true)
    }
  })

  it("refusals a warm token earns are the long way's: another org's path, another agent, a missing permission", async () => {
    expect(errorCode(await probe(token, fixedAgent, `/v1/orgs/${otherOrg}/auth-probe`))).toBe("ORG_ACCESS_DENIED")
    expect(errorCode(await probe(token, otherAgent))).toBe("AGENT_NOT_AUTHORIZED")
    expect(errorCode(await probe(token, "not-a-uuid"))).toBe("INVALID_AGENT_ID")
    expect(errorCode(await probe(readOnlyToken, fixedAgent))).toBe("INSUFFICIENT_PERMISSIONS")
    expect(errorCode(await probe(readOnlyToken, fixedAgent))).toBe("INSUFFICIENT_PERMISSIONS")
  })
})
