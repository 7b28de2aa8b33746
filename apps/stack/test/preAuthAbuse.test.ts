import { call, errorCode, type SecurityEnvironment, type WireTwoOrgs } from "@ibex/testkit/security"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { memoryEnvironment } from "./securityEnvironments.js"

// Issue 14, item 5: failed authentications are limited per client address, at admission, so a
// flood of bad tokens costs auth (and its Argon2id) nothing past the budget.
const BUDGET = 20
const probe = "/v1/internal/auth-probe"

describe("pre-authentication abuse: a failed-authentication budget per client address", () => {
  let env: SecurityEnvironment
  let orgs: WireTwoOrgs
  beforeAll(async () => {
    env = await memoryEnvironment({ authFailuresPerMinute: BUDGET })
    orgs = await env.setupTwoOrgs({ rateLimitPerMinute: 1_000_000 })
  }, 60_000)
  afterAll(() => env?.close(), 30_000)

  it("100 concurrent unknown tokens from one address: BUDGET reach auth (401), the rest are 429 with Retry-After; a warm token still works", async () => {
    const valid = { path: probe, token: orgs.orgA.tokens.full.token, agentId: orgs.orgA.agentId }
    expect((await call(env.proxyUrl(), valid)).status).toBe(200)
    const raw = orgs.orgA.tokens.full.token
    const unknown = (i: number) =>
      `ibex_pat_0190c000-0000-4000-8000-${i.toString(16).padStart(12, "0")}_${raw.slice(-43)}`
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        call(env.proxyUrl(), { path: probe, token: unknown(i), agentId: orgs.orgA.agentId })
      )
    )
    const refused = answers.filter((a) => a.status === 401)
    const throttled = answers.filter((a) => a.status === 429)
    expect(refused.length + throttled.length).toBe(100)
    expect(refused).toHaveLength(BUDGET)
    for (const a of refused) expect(errorCode(a)).toBe("INVALID_TOKEN")
    for (const a of throttled) {
      expect(errorCode(a)).toBe("AUTH_FAILURES_THROTTLED")
      expect(Number(a.headers["retry-after"])).toBeGreaterThanOrEqual(1)
    }
    // A caller whose token the proxy already holds is not caught by the flood from its address.
    expect((await call(env.proxyUrl(), valid)).status).toBe(200)
    // Nothing in any answer or log line repeats a token.
    for (const line of env.logLines()) expect(line).not.toContain(raw.slice(-43))
  })
})
