import { randomUUID } from "node:crypto"
import { connect } from "node:net"
import { AuthUnavailable, ServiceDegraded } from "@ibex/domain"
import { type CallSpec, call, checkEnvelopeRules, errorCode, header, type Observed } from "@ibex/testkit/security"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { authCalls, scriptedGateway, startMemoryProxy, startScriptedProxy, type Wire } from "./harness.js"

const probe = "/v1/internal/auth-probe"
const chat = "/v1/chat/completions"
const validChat = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] })
const uuidV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

let env: Awaited<ReturnType<typeof startMemoryProxy>>
let orgs: { orgA: Wire; orgB: Wire }
const seen: Array<Observed> = []
const send = async (spec: CallSpec) => {
  const o = await call(env.url, spec)
  seen.push(o)
  return o
}
const secrets = () => [orgs.orgA, orgs.orgB].flatMap((o) => Object.values(o.tokens))

beforeAll(async () => {
  env = await startMemoryProxy()
  orgs = await env.twoOrgs()
})
afterAll(async () => {
  await env?.close()
})

describe("public routes", () => {
  it("GET /health answers the liveness contract with the correlation headers", async () => {
    const o = await send({ path: "/health" })
    expect(o.status).toBe(200)
    expect(o.json).toEqual({ status: "ok", service: "proxy", version: "0.1.0" })
    expect(header(o, "content-type")).toBe("application/json")
    expect(header(o, "x-request-id")).toMatch(uuidV7)
    expect(header(o, "x-trace-id")).toMatch(/^[0-9a-f]{32}$/)
    expect(header(o, "x-response-time")).toMatch(/^\d+\.\d{3}ms$/)
    expect(header(o, "x-ratelimit-limit"), "no rate-limit headers on public routes").toBeUndefined()
  })

  it("GET /ready with no probes is ready with no checks", async () => {
    const o = await send({ path: "/ready" })
    expect(o.status).toBe(200)
    expect(o.json).toEqual({ status: "ready", checks: {} })
  })

  it("GET /ready reports each probe: up, down (false, failure, defect, timeout) and disabled; 503 when any is down", async () => {
    const up = await startScriptedProxy(scriptedGateway({}), {
      readiness: [
        { name: "auth_grpc", check: Effect.succeed(true) },
        { name: "redis", check: null }
      ]
    })
    const down = await startScriptedProxy(scriptedGateway({}), {
      readinessTimeoutMs: 100,
      readiness: [
        { name: "auth_grpc", check: Effect.succeed(false) },
        { name: "redis", check: Effect.never },
        { name: "failing", check: Effect.fail("x") as unknown as Effect.Effect<boolean> },
        { name: "dying", check: Effect.die(new Error("boom")) }
      ]
    })
    const degraded = await startScriptedProxy(scriptedGateway({}), {
      readiness: [
        { name: "auth_grpc", check: Effect.succeed(true) },
        { name: "redis", check: Effect.succeed(false), critical: false }
      ]
    })
    try {
      // A dependency the proxy serves without is reported down, and the instance stays ready.
      const c = await call(degraded.url, { path: "/ready" })
      expect([c.status, c.json]).toEqual([
        200,
        { status: "ready", checks: { auth_grpc: { status: "up" }, redis: { status: "down" } } }
      ])
      const a = await call(up.url, { path: "/ready" })
      expect(a.status).toBe(200)
      expect(a.json).toEqual({
        status: "ready",
        checks: { auth_grpc: { status: "up" }, redis: { status: "disabled" } }
      })
      const started = performance.now()
      const b = await call(down.url, { path: "/ready" })
      expect(performance.now() - started).toBeLessThan(1_000)
      expect(b.status).toBe(503)
      expect(b.json).toEqual({
        status: "not_ready",
        checks: {
          auth_grpc: { status: "down" },
          redis: { status: "down" },
          failing: { status: "down" },
          dying: { status: "down" }
        }
      })
    } finally {
      await up.close()
      await down.close()
      await degraded.close()
    }
  })

  it("HEAD /health and HEAD /ready answer as GET without a body (load balancer probes); a 503 carries Retry-After", async () => {
    const health = await call(env.url, { method: "HEAD", path: "/health" })
    expect(health.status).toBe(200)
    expect(health.text).toBe("")
    expect(header(health, "content-type")).toBe("application/json")
    expect(Number(header(health, "content-length"))).toBeGreaterThan(0)
    expect(header(health, "x-request-id")).toMatch(uuidV7)
    const ready = await call(env.url, { method: "HEAD", path: "/ready?probe=lb" })
    expect([ready.status, ready.text]).toEqual([200, ""])
    expect(header(ready, "retry-after")).toBeUndefined()
    const down = await startScriptedProxy(scriptedGateway({}), {
      readiness: [{ name: "auth_grpc", check: Effect.succeed(false) }]
    })
    try {
      for (const method of ["GET", "HEAD"] as const) {
        const o = await call(down.url, { method, path: "/ready" })
        expect([method, o.status, header(o, "retry-after")]).toEqual([method, 503, "1"])
      }
    } finally {
      await down.close()
    }
  })

  it("GET /metrics is Prometheus text labelled by route template, never by raw path", async () => {
    const org = randomUUID()
    await send({ path: `/v1/orgs/${org}/auth-probe` })
    await send({ path: "/no/such/path-with-secret" })
    const o = await send({ path: "/metrics" })
    expect(o.status).toBe(200)
    expect(header(o, "content-type")).toMatch(/^text\/plain/)
    expect(o.text).toContain("ibex_proxy_http_requests_total")
    expect(o.text).toContain("ibex_proxy_http_request_duration_seconds_bucket")
    expect(o.text).toMatch(/ibex_proxy_http_requests_total\{method="GET",route="\/health",status="200"\} \d+/)
    expect(o.text).toContain('route="/v1/orgs/{org_id}/auth-probe"')
    expect(o.text).toContain('route="unmatched"')
    expect(o.text).toContain('ibex_proxy_auth_outcomes_total{outcome="MISSING_TOKEN"}')
    expect(o.text).not.toContain(org)
    expect(o.text).not.toContain("path-with-secret")
  })

  it("unknown routes answer 404 and wrong methods 405 with Allow, both as envelopes", async () => {
    const nf = await send({ path: "/v1/nope" })
    expect([nf.status, errorCode(nf)]).toEqual([404, "NOT_FOUND"])
    const m1 = await send({ method: "DELETE", path: chat })
    expect([m1.status, errorCode(m1), header(m1, "allow")]).toEqual([405, "METHOD_NOT_ALLOWED", "POST"])
    const m2 = await send({ method: "POST", path: "/health", body: "{}" })
    expect([m2.status, header(m2, "allow")]).toEqual([405, "GET, HEAD"])
    const m3 = await send({ method: "GET", path: chat })
    expect([m3.status, header(m3, "allow")]).toEqual([405, "POST"])
    const head = await call(env.url, { method: "HEAD", path: chat })
    expect([head.status, header(head, "allow")]).toEqual([405, "POST"])
    const q = await send({ path: "/health?x=1" })
    expect(q.status).toBe(200)
  })
})

describe("request id and trace id", () => {
  it("honours a valid inbound v4 and v7 (normalised to lowercase)", async () => {
    const v4 = randomUUID()
    const a = await send({ path: "/health", headers: { "x-request-id": v4.toUpperCase() } })
    expect(header(a, "x-request-id")).toBe(v4)
    const v7 = "0190a0b0-1234-7abc-8def-0123456789ab"
    const b = await send({ path: probe, headers: { "x-request-id": v7 } })
    expect(header(b, "x-request-id")).toBe(v7)
    expect((b.json as { error: { request_id: string } }).error.request_id).toBe(v7)
  })

  it("replaces junk (and other UUID versions) with a fresh v7, never reflecting it", async () => {
    for (const junk of [
      "hello",
      "<script>x</script>",
      "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
      `${randomUUID()}x`,
      "' OR 1=1"
    ]) {
      const o = await send({ path: probe, headers: { "x-request-id": junk } })
      expect(header(o, "x-request-id")).toMatch(uuidV7)
      expect(o.text.includes(junk)).toBe(false)
      expect(JSON.stringify(o.headers).includes(junk)).toBe(false)
    }
  })

  it("continues an inbound W3C traceparent's trace id; a malformed one gets a fresh trace id", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
    const a = await send({ path: "/health", headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } })
    expect(header(a, "x-trace-id")).toBe(traceId)
    const b = await send({ path: "/health", headers: { traceparent: "00-zz-00f067aa0ba902b7-01" } })
    expect(header(b, "x-trace-id")).toMatch(/^[0-9a-f]{32}$/)
    expect(header(b, "x-trace-id")).not.toBe(traceId)
  })

  it("header names are configurable", async () => {
    const custom = await startScriptedProxy(scriptedGateway({}), {
      headers: { requestId: "X-Correlation-ID", traceId: "X-Trace", responseTime: "X-Took", agentId: "X-Agent" }
    })
    try {
      const id = randomUUID()
      const o = await call(custom.url, {
        path: probe,
        token: "good",
        headers: { "x-correlation-id": id, "x-agent": "0190a0b0-0000-7000-8000-0000000000a1" }
      })
      expect(o.status).toBe(200)
      expect(header(o, "x-correlation-id")).toBe(id)
      expect(header(o, "x-trace")).toMatch(/^[0-9a-f]{32}$/)
      expect(header(o, "x-took")).toMatch(/ms$/)
      expect(header(o, "x-request-id")).toBeUndefined()
    } finally {
      await custom.close()
    }
  })
})

describe("the protected chain", () => {
  const as = (org: Wire, extra: Partial<CallSpec> = {}): CallSpec => ({
    path: probe,
    token: org.tokens.full,
    agentId: org.agentId,
    ...extra
  })

  it.each([
    ["no Authorization", () => ({ path: probe, agentId: orgs.orgA.agentId }), 401, "MISSING_TOKEN"],
    ["empty Bearer", () => ({ path: probe, authorization: "Bearer   " }), 401, "MISSING_TOKEN"],
    ["Basic scheme", () => ({ path: probe, authorization: "Basic YTpi" }), 401, "MISSING_TOKEN"],
    [
      "malformed token",
      () => ({ path: probe, token: "not_a_token", agentId: orgs.orgA.agentId }),
      401,
      "INVALID_TOKEN"
    ],
    ["revoked token", () => as(orgs.orgA, { token: orgs.orgA.tokens.revoked }), 401, "INVALID_TOKEN"],
    ["expired token", () => as(orgs.orgA, { token: orgs.orgA.tokens.expired }), 401, "INVALID_TOKEN"],
    ["missing agent", () => ({ path: probe, token: orgs.orgA.tokens.full }), 400, "MISSING_AGENT_ID"],
    ["agent not a UUID", () => as(orgs.orgA, { agentId: "not-a-uuid" }), 400, "INVALID_AGENT_ID"],
    ["unknown agent", () => as(orgs.orgA, { agentId: randomUUID() }), 403, "AGENT_NOT_AUTHORIZED"],
    ["other org's agent", () => as(orgs.orgA, { agentId: orgs.orgB.agentId }), 403, "AGENT_NOT_AUTHORIZED"],
    ["paused agent", () => as(orgs.orgA, { agentId: orgs.orgA.agents.paused }), 403, "AGENT_SUSPENDED"],
    ["archived agent", () => as(orgs.orgA, { agentId: orgs.orgA.agents.archived }), 403, "AGENT_SUSPENDED"],
    ["suspended agent", () => as(orgs.orgA, { agentId: orgs.orgA.agents.suspended }), 403, "AGENT_SUSPENDED"],
    ["no permissions", () => as(orgs.orgA, { token: orgs.orgA.tokens.noPermissions }), 403, "INSUFFICIENT_PERMISSIONS"],
    [
      "read-only on chat",
      () => as(orgs.orgA, { method: "POST", path: chat, token: orgs.orgA.tokens.readOnly, body: validChat }),
      403,
      "INSUFFICIENT_PERMISSIONS"
    ],
    [
      "path org is not the token's org",
      () => as(orgs.orgA, { path: `/v1/orgs/${orgs.orgB.orgId}/auth-probe` }),
      403,
      "ORG_ACCESS_DENIED"
    ],
    ["path org is junk", () => as(orgs.orgA, { path: "/v1/orgs/..%2f/auth-probe" }), 403, "ORG_ACCESS_DENIED"]
  ] as const)("%s", async (_name, spec, status, code) => {
    const o = await send(spec())
    expect(o.status, o.text).toBe(status)
    expect(errorCode(o)).toBe(code)
    checkEnvelopeRules(o, secrets())
  })

  it("a valid token and agent reach the probe, which answers the token's org and permissions", async () => {
    for (const path of [
      probe,
      `/v1/orgs/${orgs.orgA.orgId}/auth-probe`,
      `/v1/orgs/${orgs.orgA.orgId.toUpperCase()}/auth-probe`
    ]) {
      const o = await send(as(orgs.orgA, { path }))
      expect(o.status, o.text).toBe(200)
      expect(o.json).toMatchObject({ org_id: orgs.orgA.orgId, agent_id: orgs.orgA.agentId })
      expect((o.json as { permission_names: Array<string> }).permission_names).toContain("probe:read")
      expect(header(o, "x-ratelimit-limit")).toBe("1000000")
      expect(Number(header(o, "x-ratelimit-remaining"))).toBeGreaterThan(0)
      expect(Number(header(o, "x-ratelimit-reset"))).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000))
    }
  })

  it("identity headers a client sends are ignored: the org comes from the token", async () => {
    const o = await send(
      as(orgs.orgA, {
        headers: { "x-ibex-org-id": orgs.orgB.orgId, "x-org-id": orgs.orgB.orgId, "x-user-id": randomUUID() }
      })
    )
    expect(o.status).toBe(200)
    expect((o.json as { org_id: string }).org_id).toBe(orgs.orgA.orgId)
  })

  it("auth unavailable while validating → 503 SERVICE_DEGRADED; recovers without a restart", async () => {
    const fresh = await env.twoOrgs()
    await env.setDatabaseFailing(true)
    try {
      const o = await send(as(fresh.orgA))
      expect([o.status, errorCode(o)]).toEqual([503, "SERVICE_DEGRADED"])
      checkEnvelopeRules(o, secrets())
    } finally {
      await env.setDatabaseFailing(false)
    }
    expect((await send(as(fresh.orgA))).status).toBe(200)
  })

  it("auth unavailable while verifying the agent → 503 AUTH_UNAVAILABLE", async () => {
    const s = await startScriptedProxy(scriptedGateway({ verifyAgent: () => Effect.fail(new AuthUnavailable()) }))
    const d = await startScriptedProxy(scriptedGateway({ validateToken: () => Effect.fail(new ServiceDegraded()) }))
    try {
      const o = await call(s.url, { path: probe, token: "good", agentId: randomUUID() })
      expect([o.status, errorCode(o), header(o, "retry-after")]).toEqual([503, "AUTH_UNAVAILABLE", "1"])
      checkEnvelopeRules(o, ["good"])
      const p = await call(d.url, { path: probe, token: "good", agentId: randomUUID() })
      expect([p.status, errorCode(p), header(p, "retry-after")]).toEqual([503, "SERVICE_DEGRADED", "1"])
    } finally {
      await s.close()
      await d.close()
    }
  })

  it("rate limit: Remaining decrements, the (N+1)th is 429 with Retry-After and Reset; another org is untouched", async () => {
    const limited = await env.twoOrgs(3)
    const remaining: Array<string | undefined> = []
    for (let i = 0; i < 3; i++) {
      const o = await send(as(limited.orgA))
      expect(o.status).toBe(200)
      expect(header(o, "x-ratelimit-limit")).toBe("3")
      remaining.push(header(o, "x-ratelimit-remaining"))
    }
    expect(remaining).toEqual(["2", "1", "0"])
    const denied = await send(as(limited.orgA))
    expect([denied.status, errorCode(denied)]).toEqual([429, "RATE_LIMITED"])
    const retryAfter = Number(header(denied, "retry-after"))
    expect(retryAfter).toBeGreaterThan(0)
    expect(retryAfter).toBeLessThanOrEqual(60)
    expect(header(denied, "x-ratelimit-remaining")).toBe("0")
    expect(header(denied, "x-ratelimit-limit")).toBe("3")
    const reset = Number(header(denied, "x-ratelimit-reset"))
    expect(reset - Date.now() / 1000).toBeLessThanOrEqual(61)
    expect(reset).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000))
    checkEnvelopeRules(denied, secrets())
    const other = await send(as(limited.orgB))
    expect([other.status, header(other, "x-ratelimit-remaining")]).toEqual([200, "2"])
  })

  it("the default limit (60/min) applies when the org record has none", async () => {
    const plain = await env.twoOrgs(null)
    const o = await send(as(plain.orgA))
    expect([header(o, "x-ratelimit-limit"), header(o, "x-ratelimit-remaining")]).toEqual(["60", "59"])
  })

  it("limiter unavailable → the request passes (fail open) with no rate-limit headers; limits resume after", async () => {
    const limited = await env.twoOrgs(1)
    expect((await send(as(limited.orgA))).status).toBe(200)
    await env.setLimiterAvailable(false)
    try {
      for (let i = 0; i < 3; i++) {
        const o = await send(as(limited.orgA))
        expect(o.status).toBe(200)
        expect(header(o, "x-ratelimit-remaining")).toBeUndefined()
        expect(header(o, "x-ratelimit-limit")).toBeUndefined()
      }
    } finally {
      await env.setLimiterAvailable(true)
    }
    expect((await send(as(limited.orgA))).status).toBe(429)
  })
})

describe("chat completions: body rules, JSON, validation, 501", () => {
  const chatAs = (org: Wire, body: string, extra: Partial<CallSpec> = {}): CallSpec => ({
    method: "POST",
    path: chat,
    token: org.tokens.full,
    agentId: org.agentId,
    body,
    ...extra
  })

  it("a valid request passes every middleware and answers 501 PROVIDER_NOT_CONFIGURED with rate-limit headers", async () => {
    const o = await send(chatAs(orgs.orgA, validChat))
    expect([o.status, errorCode(o)]).toEqual([501, "PROVIDER_NOT_CONFIGURED"])
    expect(header(o, "x-ratelimit-limit")).toBeDefined()
    checkEnvelopeRules(o, secrets())
  })

  it("415 and 413 come before any auth call (even with no or a bad token)", async () => {
    const before = { ...authCalls }
    const ct = await send({
      method: "POST",
      path: chat,
      token: "not_a_token",
      headers: { "content-type": "text/plain" },
      body: "hi"
    })
    expect([ct.status, errorCode(ct)]).toEqual([415, "UNSUPPORTED_MEDIA_TYPE"])
    const none = await call(env.url, { method: "POST", path: chat, headers: { "content-type": "" }, body: "{}" })
    expect(none.status).toBe(415)
    const big = "x".repeat(1024 * 1024 + 1)
    const tooBig = await send({ method: "POST", path: chat, token: "not_a_token", body: big })
    expect([tooBig.status, errorCode(tooBig)]).toEqual([413, "PAYLOAD_TOO_LARGE"])
    expect(authCalls).toEqual(before)
    checkEnvelopeRules(tooBig, secrets())
  })

  // 20 chunks of 64 KiB (1.25 MiB, over the 1 MiB limit) after the given headers; resolves with what came back.
  const sendChunked = (headerLines: string) =>
    new Promise<string>((resolve, reject) => {
      const u = new URL(env.url)
      const socket = connect(Number(u.port), u.hostname, () => {
        socket.write(
          `POST ${chat} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n${headerLines}\r\n`
        )
        const chunk = "a".repeat(64 * 1024)
        for (let i = 0; i < 20; i++) socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`)
      })
      let data = ""
      socket.on("data", (d) => {
        data += d.toString()
      })
      socket.on("close", () => resolve(data))
      socket.on("error", () => resolve(data))
      setTimeout(() => reject(new Error(`timeout: ${data}`)), 5_000)
    })

  it("a caller refused on its headers never has its body read: 401 and the connection closes", async () => {
    const res = await sendChunked("Authorization: Bearer x\r\n")
    expect(res).toMatch(/^HTTP\/1\.1 401/)
    expect(res).toContain("INVALID_TOKEN")
    expect(res.toLowerCase()).toContain("connection: close")
  })

  // Writes `first`, then, once its whole answer came back (Content-Length framed), `then` on the
  // same connection; resolves with both answers ("" for one that never came) once the socket closes.
  const onOneConnection = (first: string, then: string) =>
    new Promise<[string, string]>((resolve, reject) => {
      const u = new URL(env.url)
      const answers: Array<string> = []
      let data = ""
      const socket = connect(Number(u.port), u.hostname, () => socket.write(first))
      socket.on("data", (d) => {
        data += d.toString("latin1")
        const headEnd = data.indexOf("\r\n\r\n")
        const length = /\r\ncontent-length: (\d+)/i.exec(data)
        if (headEnd === -1 || length === null || data.length < headEnd + 4 + Number(length[1])) return
        answers.push(data.slice(0, headEnd + 4 + Number(length[1])))
        data = ""
        if (answers.length === 1) socket.write(then)
        else socket.end()
      })
      socket.on("close", () => resolve([answers[0] ?? "", answers[1] ?? ""]))
      socket.on("error", () => resolve([answers[0] ?? "", answers[1] ?? ""]))
      setTimeout(() => reject(new Error(`timeout: ${answers.join("|")}${data}`)), 5_000)
    })
  const health = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
  const chatWith = (headerLines: string, body: string) =>
    `POST ${chat} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${headerLines}\r\n${body}`

  it("a refusal keeps the connection when the unread body is absent or small: the next request on it is answered", async () => {
    const refusals = [
      `GET ${probe} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer x\r\n\r\n`,
      `GET ${probe} HTTP/1.1\r\nHost: x\r\n\r\n`,
      chatWith("Authorization: Bearer x\r\n", validChat),
      chatWith("", validChat),
      // Just under the bound, unread: Node discards it before reading the next request.
      chatWith("Authorization: Bearer x\r\n", "x".repeat(64 * 1024))
    ]
    for (const first of refusals) {
      const [refused, next] = await onOneConnection(first, health)
      expect(refused, first.slice(0, 60)).toMatch(/^HTTP\/1\.1 401/)
      expect(refused.toLowerCase()).not.toContain("connection: close")
      expect(next, first.slice(0, 60)).toMatch(/^HTTP\/1\.1 200/)
      expect(next).toContain('"status":"ok"')
    }
  })

  it("a refusal closes the connection when the unread body is declared large", async () => {
    const [refused, next] = await onOneConnection(
      chatWith("Authorization: Bearer x\r\n", "x".repeat(64 * 1024 + 1)),
      health
    )
    expect(refused).toMatch(/^HTTP\/1\.1 401/)
    expect(refused.toLowerCase()).toContain("connection: close")
    expect(next).toBe("")
  })

  it("a chunked body over the limit from an authorized caller is cut off with 413", async () => {
    const res = await sendChunked(
      `Authorization: Bearer ${orgs.orgA.tokens.full}\r\nX-IBEX-Agent-ID: ${orgs.orgA.agentId}\r\n`
    )
    expect(res).toMatch(/^HTTP\/1\.1 413/)
    expect(res).toContain("PAYLOAD_TOO_LARGE")
  })

  it("a body nested 5,000 levels deep (10 KB) → 400 VALIDATION_FAILED, never a 500 from a recursion", async () => {
    const deep = `${"[".repeat(5_000)}${"]".repeat(5_000)}`
    for (const body of [
      `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}],"metadata_x":${deep}}`,
      `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"a":${deep}}}}]}`
    ]) {
      const o = await send(chatAs(orgs.orgA, body))
      expect([o.status, errorCode(o)]).toEqual([400, "VALIDATION_FAILED"])
      checkEnvelopeRules(o, secrets())
    }
  })

  it("malformed JSON → 400 INVALID_JSON envelope (after auth)", async () => {
    for (const body of ['{"model":', "", "[", "\u00ff{}"]) {
      const o = await send(chatAs(orgs.orgA, body))
      expect([o.status, errorCode(o)], body).toEqual([400, "INVALID_JSON"])
      checkEnvelopeRules(o, secrets())
    }
    const charset = await send(
      chatAs(orgs.orgA, validChat, { headers: { "content-type": "application/json; charset=utf-8" } })
    )
    expect(charset.status).toBe(501)
  })

  const valid: ReadonlyArray<readonly [string, unknown]> = [
    [
      "system + user",
      {
        model: "m",
        messages: [
          { role: "system", content: "s" },
          { role: "user", content: "u" }
        ]
      }
    ],
    [
      "developer",
      {
        model: "m",
        messages: [
          { role: "developer", content: "d" },
          { role: "user", content: "u" }
        ]
      }
    ],
    [
      "content parts",
      {
        model: "m",
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "what is this?" },
              { type: "image_url", image_url: { url: "https://example.com/a.png", detail: "low" } }
            ]
          }
        ]
      }
    ],
    [
      "tools + assistant tool call + tool result",
      {
        model: "m",
        tools: [
          { type: "function", function: { name: "get_weather", parameters: { type: "object", properties: {} } } }
        ],
        tool_choice: "auto",
        messages: [
          { role: "user", content: "weather?" },
          {
            role: "assistant",
            content: null,
            tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: "{}" } }]
          },
          { role: "tool", tool_call_id: "call_1", content: "sunny" }
        ]
      }
    ],
    ["streaming flag", { model: "m", stream: true, messages: [{ role: "user", content: "u" }] }],
    [
      "sampling params",
      { model: "m", temperature: 0.7, top_p: 1, max_tokens: 10, messages: [{ role: "user", content: "u" }] }
    ]
  ]
  it.each(valid)("valid per OpenAI's reference: %s → 501", async (_name, body) => {
    const o = await send(chatAs(orgs.orgA, JSON.stringify(body)))
    expect([o.status, errorCode(o)], o.text).toEqual([501, "PROVIDER_NOT_CONFIGURED"])
  })

  const invalid: ReadonlyArray<readonly [string, unknown, string]> = [
    ["not an object", [1, 2], "body"],
    ["missing model", { messages: [{ role: "user", content: "u" }] }, "model"],
    ["missing messages", { model: "m" }, "messages"],
    ["unknown role", { model: "m", messages: [{ role: "wizard", content: "x" }] }, "messages.0"],
    ["content of the wrong type", { model: "m", messages: [{ role: "user", content: 42 }] }, "messages.0"],
    [
      "bad content part",
      { model: "m", messages: [{ role: "user", content: [{ type: "hologram" }] }] },
      "messages.0.content.0"
    ],
    ["tool message without tool_call_id", { model: "m", messages: [{ role: "tool", content: "x" }] }, "messages.0"],
    ["stream not a boolean", { model: "m", stream: "yes", messages: [{ role: "user", content: "u" }] }, "stream"],
    [
      "temperature out of range",
      { model: "m", temperature: 5, messages: [{ role: "user", content: "u" }] },
      "temperature"
    ],
    [
      "tool without a name",
      { model: "m", tools: [{ type: "function", function: {} }], messages: [{ role: "user", content: "u" }] },
      "tools.0"
    ]
  ]
  it.each(invalid)("malformed: %s → 400 with a field_errors entry at the right path", async (_name, body, path) => {
    const o = await send(chatAs(orgs.orgA, JSON.stringify(body)))
    expect([o.status, errorCode(o)], o.text).toEqual([400, "VALIDATION_FAILED"])
    const fields = (o.json as { error: { field_errors: Array<{ field: string; message: string }> } }).error.field_errors
    expect(fields.length).toBeGreaterThan(0)
    expect(
      fields.some((f) => f.field === path || f.field.startsWith(`${path}.`)),
      JSON.stringify(fields)
    ).toBe(true)
    checkEnvelopeRules(o, secrets())
  })
})

describe("hardening", () => {
  const raw = (request: string) =>
    new Promise<string>((resolve) => {
      const u = new URL(env.url)
      const socket = connect(Number(u.port), u.hostname, () => socket.write(request))
      let data = ""
      socket.on("data", (d) => {
        data += d.toString()
      })
      socket.on("close", () => resolve(data))
      socket.on("error", () => resolve(data))
    })

  it("a header value with CR or LF is refused with the 400 envelope and correlation headers", async () => {
    for (const bad of [
      "X-Foo: a\rb\r\n",
      "X-Foo: a\nb\r\n",
      `X-Request-ID: ${randomUUID()}\rX-IBEX-Org-ID: evil\r\n`
    ]) {
      const res = await raw(`GET /health HTTP/1.1\r\nHost: x\r\n${bad}\r\n`)
      expect(res, JSON.stringify(bad)).toMatch(/^HTTP\/1\.1 400/)
      expect(res).toContain("INVALID_HEADER")
      expect(res).toMatch(/X-Request-ID: [0-9a-f-]{36}/i)
      expect(res).not.toContain("evil")
      const body = JSON.parse(res.slice(res.indexOf("\r\n\r\n") + 4)) as { error: { request_id: string } }
      expect(res).toContain(`X-Request-ID: ${body.error.request_id}`)
    }
    expect((await send({ path: "/health" })).status).toBe(200)
  })

  it("two Authorization headers are refused as ambiguous (400 INVALID_HEADER), whichever org's tokens they carry", async () => {
    const a = orgs.orgA.tokens.full
    const b = orgs.orgB.tokens.full
    for (const [first, second] of [
      [a, b],
      [a, a],
      ["x", a]
    ]) {
      const res = await raw(
        `GET ${probe} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${first}\r\nX-IBEX-Agent-ID: ${orgs.orgA.agentId}\r\n` +
          `authorization: Bearer ${second}\r\nConnection: close\r\n\r\n`
      )
      expect(res).toMatch(/^HTTP\/1\.1 400/)
      expect(res).toContain("INVALID_HEADER")
      expect(res).not.toContain(a)
    }
    const one = await raw(
      `GET ${probe} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${a}\r\nX-IBEX-Agent-ID: ${orgs.orgA.agentId}\r\nConnection: close\r\n\r\n`
    )
    expect(one).toMatch(/^HTTP\/1\.1 200/)
  })

  it("a defect answers 500 INTERNAL_ERROR without a stack, is logged without secrets, and the server keeps serving", async () => {
    const s = await startScriptedProxy(
      scriptedGateway({
        validateToken: () => Effect.die(new TypeError("boom with ibex_pat_deadbeef_secret and Bearer abc"))
      })
    )
    try {
      const requestId = randomUUID()
      const o = await call(s.url, {
        path: probe,
        token: "good",
        agentId: randomUUID(),
        headers: { "x-request-id": requestId }
      })
      expect([o.status, errorCode(o)]).toEqual([500, "INTERNAL_ERROR"])
      checkEnvelopeRules(o, ["good"])
      expect(o.text).not.toContain("boom")
      expect((await call(s.url, { path: "/health" })).status).toBe(200)
      const logged = s.logs.join("\n")
      expect(logged).toContain("TypeError")
      expect(logged).not.toContain("ibex_pat_deadbeef_secret")
      expect(logged).not.toContain("Bearer abc")
      // The defect's line is logged from its own fiber: it names the request by its ids.
      await new Promise((r) => setTimeout(r, 20))
      const defectLine = s.logs.find((l) => l.includes("unhandled failure"))
      expect(defectLine).toContain(requestId)
      expect(defectLine).toMatch(/"trace_id":"[0-9a-f]{32}"/)
    } finally {
      await s.close()
    }
  })

  it("logs are structured JSON with request id, trace id, org, route, status and duration, and carry no token", async () => {
    const id = randomUUID()
    await send({
      path: probe,
      token: orgs.orgA.tokens.full,
      agentId: orgs.orgA.agentId,
      headers: { "x-request-id": id }
    })
    const line = env.logs
      .map((l) => JSON.parse(l) as { message: Record<string, unknown> })
      .find((l) => typeof l.message === "object" && l.message.request_id === id)
    expect(line?.message).toMatchObject({
      request_id: id,
      org_id: orgs.orgA.orgId,
      route: probe,
      status: 200,
      method: "GET"
    })
    expect(line?.message.trace_id).toMatch(/^[0-9a-f]{32}$/)
    expect(typeof line?.message.duration_ms).toBe("number")
    const all = env.logs.join("\n")
    for (const t of secrets()) expect(all.includes(t)).toBe(false)
    expect(all.toLowerCase()).not.toContain("bearer")
  })

  it("every response observed in this file follows the header and envelope rules (SEC-6.x)", () => {
    expect(seen.length).toBeGreaterThan(40)
    for (const o of seen) checkEnvelopeRules(o, secrets())
  })
})
