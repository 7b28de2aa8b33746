import { ErrorCatalogue } from "@ibex/domain"
import { parsePrometheusText } from "@ibex/testkit"
import { call, header } from "@ibex/testkit/security"
import { Redacted } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startProxyStack } from "./stack.js"

let env: Awaited<ReturnType<typeof startProxyStack>>
let token: string
/** Appears in every client-supplied string below: it must reach no label. */
const MARK = "zqxjunk"

beforeAll(async () => {
  env = await startProxyStack({ processMetrics: true })
  token = Redacted.value(env.org.token)
})
afterAll(async () => {
  await env?.close()
})

const routeTemplates = new Set([
  "/health",
  "/ready",
  "/metrics",
  "/v1/internal/auth-probe",
  "/v1/orgs/{org_id}/auth-probe",
  "/v1/chat/completions",
  "unmatched"
])
const errorCodes = new Set(Object.values(ErrorCatalogue).map((e) => e.code))

/** Every label name /metrics may use, with the closed set (or fixed shape) of its values. */
const labelRules: Record<string, (value: string) => boolean> = {
  method: (v) => ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "OTHER"].includes(v),
  route: (v) => routeTemplates.has(v),
  status: (v) => /^[1-5]\d\d$/.test(v),
  outcome: (v) => v === "ok" || errorCodes.has(v),
  decision: (v) => ["allowed", "denied", "fail_open"].includes(v),
  dependency: (v) => ["auth_grpc", "redis"].includes(v),
  le: (v) => v === "+Inf" || /^\d+(\.\d+)?(e[+-]?\d+)?$/.test(v),
  // prom-client's process metrics: values fixed by the runtime, not by a client.
  version: (v) => v === process.version,
  major: (v) => /^\d+$/.test(v),
  minor: (v) => /^\d+$/.test(v),
  patch: (v) => /^\d+$/.test(v),
  space: (v) => /^[a-z_]+$/.test(v),
  kind: (v) => ["minor", "major", "incremental", "weakcb"].includes(v),
  type: (v) => /^[A-Za-z][A-Za-z0-9]*$/.test(v)
}

describe("proxy /metrics", () => {
  it("is strict Prometheus text whose labels come only from closed sets, after junk requests", async () => {
    // Junk first: odd paths, methods, headers and credentials, all carrying the marker.
    await call(env.url, { path: `/${MARK}/../etc/passwd?x=${MARK}` })
    await call(env.url, { path: `/v1/orgs/${MARK}/auth-probe`, token, agentId: env.org.agentId })
    await call(env.url, { path: `/v1/orgs/${env.org.orgId}/auth-probe`, token, agentId: env.org.agentId })
    await call(env.url, { path: `/v1/internal/auth-probe?token=${token}&${MARK}=1`, token, agentId: env.org.agentId })
    await call(env.url, { path: "/v1/internal/auth-probe", token: `ibex_pat_${MARK}`, agentId: env.org.agentId })
    await call(env.url, { path: "/v1/internal/auth-probe", authorization: `Basic ${MARK}`, agentId: MARK })
    await call(env.url, { path: "/v1/internal/auth-probe", token, agentId: MARK })
    await call(env.url, { method: "PROPFIND", path: `/${MARK}` })
    await call(env.url, { method: "DELETE", path: "/health", headers: { "x-request-id": MARK, traceparent: MARK } })
    await call(env.url, {
      method: "POST",
      path: "/v1/chat/completions",
      token,
      agentId: env.org.agentId,
      body: JSON.stringify({ model: MARK, messages: [{ role: MARK, content: MARK }] })
    })
    await call(env.url, { path: "/v1/chat/completions", headers: { [`x-${MARK}`]: MARK } })
    const ready = await call(env.url, { path: "/ready" })
    expect(ready.json).toEqual({
      status: "ready",
      checks: { auth_grpc: { status: "up" }, redis: { status: "disabled" } }
    })

    const o = await call(env.url, { path: "/metrics" })
    expect(o.status).toBe(200)
    expect(header(o, "content-type")).toMatch(/^text\/plain; version=0\.0\.4/)
    const exposition = parsePrometheusText(o.text)

    for (const name of [
      "ibex_proxy_http_requests_total",
      "ibex_proxy_http_request_duration_seconds",
      "ibex_proxy_auth_outcomes_total",
      "ibex_proxy_ratelimit_decisions_total",
      "ibex_dependency_up"
    ])
      expect(exposition.families.has(name), name).toBe(true)
    expect(exposition.families.get("ibex_proxy_http_request_duration_seconds")?.type).toBe("histogram")
    const up = exposition.families.get("ibex_dependency_up")?.samples ?? []
    expect(up.map((s) => [s.labels.dependency, s.value])).toEqual([["auth_grpc", 1]])

    const outcomes = new Set(
      exposition.families.get("ibex_proxy_auth_outcomes_total")?.samples.map((s) => s.labels.outcome)
    )
    expect(outcomes).toContain("ok")
    expect(outcomes).toContain("INVALID_TOKEN")
    const routes = new Set(
      exposition.families.get("ibex_proxy_http_requests_total")?.samples.map((s) => s.labels.route)
    )
    expect(routes).toContain("unmatched")
    expect(routes).toContain("/v1/orgs/{org_id}/auth-probe")

    for (const sample of exposition.samples)
      for (const [name, value] of Object.entries(sample.labels)) {
        const rule = labelRules[name]
        expect(rule, `label ${name} on ${sample.name} is not in the allowed set`).toBeDefined()
        expect(rule?.(value), `${sample.name}{${name}="${value}"}`).toBe(true)
      }
    expect(o.text).not.toContain(MARK)
    expect(o.text).not.toContain(token)
    expect(o.text).not.toContain(env.org.orgId)
    expect(o.text, "no hash-like value").not.toMatch(/[0-9a-f]{32}/)
  })
})

describe("health contract", () => {
  it("/health is {status, service, version}; /ready is {status, checks{name:{status}}} with 200/503", async () => {
    const h = await call(env.url, { path: "/health" })
    expect(h.status).toBe(200)
    expect(h.json).toEqual({ status: "ok", service: "proxy", version: "0.1.0" })
    const r = await call(env.url, { path: "/ready" })
    expect(r.status).toBe(200)
    const body = r.json as { status: string; checks: Record<string, { status: string }> }
    expect(body.status).toBe("ready")
    for (const check of Object.values(body.checks)) expect(["up", "down", "disabled"]).toContain(check.status)
  })
})
