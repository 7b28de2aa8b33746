import { AuditLogJson, AuthClient, AuthGatewayGrpc, AuthGrpcServer, AuthGrpcServerLive } from "@ibex/auth-adapter-grpc"
import { InvalidTokenReason, jsonLoggerTo, Permissions, RevocationEvent, RpcPermissions } from "@ibex/domain"
import { authServicesMemory, MemoryDatabase, parsePrometheusText, setupOrg, type TestOrgContext } from "@ibex/testkit"
import { call, header } from "@ibex/testkit/security"
import { Effect, Layer, ManagedRuntime, PubSub, Redacted } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { AUTH_VERSION, AuthAdminHttp, AuthAdminHttpLive } from "../src/index.js"

/** Appears in every client-supplied string below: it must reach no label. */
const MARK = "zqxjunk"
const logs: Array<string> = []

// The production JSON audit log (the memory services' AuditLog records without logging).
const server = AuthGrpcServerLive({ host: "127.0.0.1", port: 0, shutdownTimeoutMs: 1_000 }).pipe(
  Layer.provide(AuditLogJson)
)
const admin = AuthAdminHttpLive({ host: "127.0.0.1", port: 0, version: AUTH_VERSION, readinessTimeoutMs: 500 })
const client = Layer.unwrapEffect(
  Effect.map(AuthGrpcServer, (s) => AuthGatewayGrpc({ target: s.address, deadlineMs: 2_000 }))
)
const stack = Layer.mergeAll(client, admin).pipe(
  Layer.provideMerge(server),
  Layer.provideMerge(authServicesMemory()),
  Layer.provide(jsonLoggerTo((line) => logs.push(line)))
)

let runtime: ManagedRuntime.ManagedRuntime<Layer.Layer.Success<typeof stack>, unknown>
let url: string
let org: TestOrgContext
let token: string

beforeAll(async () => {
  runtime = ManagedRuntime.make(stack)
  org = await runtime.runPromise(setupOrg())
  url = (await runtime.runPromise(AuthAdminHttp)).url
  token = Redacted.value(org.token)
})
afterAll(async () => {
  await runtime?.dispose()
})

const setDatabaseFailing = (failing: boolean) =>
  runtime.runPromise(
    Effect.map(MemoryDatabase, (db) => {
      db.failing = failing
    })
  )
const publishFeed = (event: RevocationEvent) =>
  runtime.runPromise(Effect.flatMap(MemoryDatabase, (db) => PubSub.publish(db.revocations, event)))

describe("auth admin HTTP: health and readiness (the proxy's contract)", () => {
  it("GET /health answers {status:ok, service:auth, version}", async () => {
    const o = await call(url, { path: "/health" })
    expect(o.status).toBe(200)
    expect(header(o, "content-type")).toBe("application/json")
    expect(o.json).toEqual({ status: "ok", service: "auth", version: AUTH_VERSION })
  })

  it("HEAD /health and HEAD /ready answer as GET without a body (load balancer probes)", async () => {
    for (const path of ["/health", "/ready"]) {
      const o = await call(url, { method: "HEAD", path })
      expect([path, o.status, o.text]).toEqual([path, 200, ""])
      expect(header(o, "content-type")).toBe("application/json")
      expect(header(o, "retry-after")).toBeUndefined()
    }
  })

  it("GET /ready is ready when the database answers and the revocation feed is connected", async () => {
    const o = await call(url, { path: "/ready" })
    expect(o.status).toBe(200)
    expect(o.json).toEqual({
      status: "ready",
      checks: { database: { status: "up" }, revocation_feed: { status: "up" } }
    })
  })

  it("GET /ready is 503 not_ready with the failing check down (database, then revocation feed)", async () => {
    await setDatabaseFailing(true)
    try {
      const o = await call(url, { path: "/ready" })
      expect(o.status).toBe(503)
      expect(header(o, "retry-after")).toBe("1")
      const head = await call(url, { method: "HEAD", path: "/ready" })
      expect([head.status, head.text, header(head, "retry-after")]).toEqual([503, "", "1"])
      expect(o.json).toEqual({
        status: "not_ready",
        checks: { database: { status: "down" }, revocation_feed: { status: "up" } }
      })
    } finally {
      await setDatabaseFailing(false)
    }
    await publishFeed(RevocationEvent.Disconnected())
    try {
      const o = await call(url, { path: "/ready" })
      expect(o.status).toBe(503)
      expect(o.json).toEqual({
        status: "not_ready",
        checks: { database: { status: "up" }, revocation_feed: { status: "down" } }
      })
    } finally {
      await publishFeed(RevocationEvent.Connected())
    }
    const back = await call(url, { path: "/ready" })
    expect(back.status).toBe(200)
  })

  it("unknown paths are 404 and other methods 405, as the error envelope, reflecting nothing", async () => {
    const missing = await call(url, { path: `/${MARK}` })
    expect(missing.status).toBe(404)
    expect((missing.json as { error: { code: string } }).error.code).toBe("NOT_FOUND")
    const post = await call(url, { method: "POST", path: "/metrics", body: MARK })
    expect(post.status).toBe(405)
    expect(header(post, "allow")).toBe("GET")
    const postHealth = await call(url, { method: "POST", path: "/health", body: MARK })
    expect([postHealth.status, header(postHealth, "allow")]).toEqual([405, "GET, HEAD"])
    for (const o of [missing, post]) expect(o.text).not.toContain(MARK)
  })
})

describe("auth admin HTTP: /metrics", () => {
  it("is strict Prometheus text with the Effect metrics and closed-set labels, after junk calls", async () => {
    // Junk and real traffic over gRPC first, every client string carrying the marker.
    await runtime.runPromise(
      Effect.gen(function* () {
        const auth = yield* AuthClient
        yield* Effect.either(auth.validateToken(Redacted.make(token)))
        yield* Effect.either(auth.validateToken(Redacted.make(`ibex_pat_${MARK}`)))
        yield* Effect.either(auth.validateToken(Redacted.make(`${token.slice(0, -4)}${MARK.slice(0, 4)}`)))
        yield* Effect.either(auth.verifyAgent(org.orgId, MARK))
        yield* Effect.either(auth.createToken(Redacted.make(MARK), { name: MARK, permissions: Permissions.all }))
        yield* Effect.either(auth.createToken(org.token, { name: MARK, permissions: Permissions.all }))
        yield* Effect.either(auth.revokeToken(org.token, MARK))
        yield* Effect.either(auth.listTokens(org.token, { pageSize: 5, pageToken: MARK }))
      })
    )
    await call(url, { path: "/ready" })

    const o = await call(url, { path: "/metrics" })
    expect(o.status).toBe(200)
    expect(header(o, "content-type")).toMatch(/^text\/plain; version=0\.0\.4/)
    const exposition = parsePrometheusText(o.text)

    const expectFamily = (name: string, type: string) => expect(exposition.families.get(name)?.type, name).toBe(type)
    expectFamily("ibex_auth_validation_total", "counter")
    expectFamily("ibex_auth_validation_duration_seconds", "histogram")
    expectFamily("ibex_auth_grpc_requests_total", "counter")
    expectFamily("ibex_auth_token_created_total", "counter")
    expectFamily("ibex_auth_management_refused_total", "counter")
    expectFamily("ibex_dependency_up", "gauge")
    expectFamily("ibex_auth_process_cpu_user_seconds_total", "counter")
    expect(exposition.families.get("ibex_auth_token_created_total")?.samples[0]?.value).toBe(1)
    expect(exposition.families.get("ibex_dependency_up")?.samples.map((s) => [s.labels.dependency, s.value])).toEqual(
      expect.arrayContaining([
        ["database", 1],
        ["revocation_feed", 1]
      ])
    )

    const rpcNames = ["ValidateToken", "VerifyAgent", "CreateToken", "RevokeToken", "ListTokens"]
    const outcomes = [
      "cache_hit",
      "verified",
      ...InvalidTokenReason.literals,
      "negative_cache",
      "throttled",
      "store_unavailable"
    ]
    const labelRules: Record<string, (value: string) => boolean> = {
      outcome: (v) => outcomes.includes(v),
      method: (v) => rpcNames.includes(v),
      code: (v) => /^[A-Z_]+$/.test(v),
      operation: (v) => Object.keys(RpcPermissions).includes(v),
      dependency: (v) => ["database", "revocation_feed"].includes(v),
      le: (v) => v === "+Inf" || /^\d+(\.\d+)?(e[+-]?\d+)?$/.test(v),
      version: (v) => v === process.version,
      major: (v) => /^\d+$/.test(v),
      minor: (v) => /^\d+$/.test(v),
      patch: (v) => /^\d+$/.test(v),
      space: (v) => /^[a-z_]+$/.test(v),
      kind: (v) => ["minor", "major", "incremental", "weakcb"].includes(v),
      type: (v) => /^[A-Za-z][A-Za-z0-9]*$/.test(v),
      // Effect's own fiber metrics.
      time_unit: (v) => v === "milliseconds"
    }
    for (const sample of exposition.samples)
      for (const [name, value] of Object.entries(sample.labels)) {
        const rule = labelRules[name]
        expect(rule, `label ${name} on ${sample.name} is not in the allowed set`).toBeDefined()
        expect(rule?.(value), `${sample.name}{${name}="${value}"}`).toBe(true)
      }
    expect(o.text).not.toContain(MARK)
    expect(o.text).not.toContain(token)
    expect(o.text).not.toContain(org.orgId)
    expect(o.text, "no hash-like value").not.toMatch(/[0-9a-f]{32}/)
  })
})

describe("auth logs", () => {
  it("lines logged inside an RPC carry the caller's trace id (propagated over gRPC) and the org id; none carries a token", async () => {
    const before = logs.length
    const callerTrace = await runtime.runPromise(
      Effect.gen(function* () {
        const auth = yield* AuthClient
        yield* Effect.either(auth.createToken(org.token, { name: "observability", permissions: Permissions.all }))
        return (yield* Effect.currentSpan).traceId
      }).pipe(Effect.withSpan("test.caller"))
    )
    const lines = logs.slice(before).map((l) => JSON.parse(l) as Record<string, unknown>)
    const audit = lines.find((l) => l.audit === "token_created")
    expect(audit, "the audit line of CreateToken").toBeDefined()
    expect(audit?.trace_id).toBe(callerTrace)
    expect(audit?.span_id).toMatch(/^[0-9a-f]{16}$/)
    expect(audit?.org_id).toBe(org.orgId)
    expect(audit?.rpc).toBe("CreateToken")
    for (const l of logs) expect(l).not.toContain(token)
  })
})
