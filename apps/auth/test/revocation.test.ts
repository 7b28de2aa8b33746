import * as grpc from "@grpc/grpc-js"
import { AuthClient, AuthGrpcServer, AuthProto } from "@ibex/auth-adapter-grpc"
import { TokenValidator } from "@ibex/auth-core"
import { Permissions } from "@ibex/domain"
import { bootstrapAdminToken, createOrg } from "@ibex/testkit"
import { describeRealInfra } from "@ibex/testkit/infra"
import { type ProvisionedDatabase, provisionDatabase, withClient } from "@ibex/testkit/provision"
import { Effect, type Layer, ManagedRuntime } from "effect"
import { afterAll, beforeAll, expect, it } from "vitest"
import { authInstance, countingArgon2, migrations } from "./stack.js"

/**
 * SEC-1.5, revocation SLA 300 ms across instances: two auth servers (two layer builds: each its
 * own TokenValidator cache, pool and LISTEN connection) on one Postgres database. A token is
 * cached on B, revoked through A's RevokeToken RPC, and B's ValidateToken is polled until it
 * answers UNAUTHENTICATED. PGlite does not deliver NOTIFY across connections, so this needs a
 * real server (DATABASE_URL).
 */
const TRIALS = 50
const SLA_MS = 300
const onPostgres = describeRealInfra(
  process.env.DATABASE_URL !== undefined,
  "DATABASE_URL is not set (PGlite does not deliver NOTIFY across connections)"
)

type R = Layer.Layer.Success<ReturnType<typeof authInstance>>

onPostgres("revocation across two auth instances on one Postgres", () => {
  let db: ProvisionedDatabase
  let a: ManagedRuntime.ManagedRuntime<R, unknown>
  let b: ManagedRuntime.ManagedRuntime<R, unknown>
  const hasherB = countingArgon2()
  let rawB: AuthProto.AuthServiceClient

  beforeAll(async () => {
    db = await provisionDatabase({ migrations, backend: "postgres" })
    a = ManagedRuntime.make(authInstance(db, countingArgon2().layer))
    b = ManagedRuntime.make(authInstance(db, hasherB.layer))
    await Promise.all([a.runtime(), b.runtime()])
    rawB = new AuthProto.AuthServiceClient(
      (await b.runPromise(AuthGrpcServer)).address,
      grpc.credentials.createInsecure()
    )
  })
  afterAll(async () => {
    rawB?.close()
    await Promise.all([a?.dispose(), b?.dispose()])
    await db?.drop()
  })

  const validateOnB = (token: string) =>
    new Promise<grpc.status>((resolve) => {
      rawB.validateToken({ token }, new grpc.Metadata(), { deadline: Date.now() + 1_000 }, (e) =>
        resolve(e === null ? grpc.status.OK : e.code)
      )
    })

  it(`a token revoked through A is rejected by B within ${SLA_MS} ms, ${TRIALS} times out of ${TRIALS}`, async () => {
    const org = await a.runPromise(createOrg())
    const admin = (await a.runPromise(bootstrapAdminToken(org.id))).token
    expect((await b.runPromise(Effect.flatMap(TokenValidator, (v) => v.stats))).trusted).toBe(true)

    const latencies: Array<number> = []
    const revokeRpc: Array<number> = []
    // Trial -1 warms up (first revoke statement on A's pool, first notice on B, JIT): not counted, reported.
    let warmup = Number.NaN
    for (let trial = -1; trial < TRIALS; trial++) {
      const created = await a.runPromise(
        Effect.flatMap(AuthClient, (c) => c.createToken(admin, { name: `t${trial}`, permissions: Permissions.none }))
      )
      // Cached on B: the first validation verifies with Argon2id, the second is a cache hit (no hasher call).
      expect(await validateOnB(created.token)).toBe(grpc.status.OK)
      const verifies = hasherB.calls.verify
      expect(await validateOnB(created.token)).toBe(grpc.status.OK)
      expect(hasherB.calls.verify).toBe(verifies)

      const started = performance.now()
      await a.runPromise(Effect.flatMap(AuthClient, (c) => c.revokeToken(admin, created.info!.id)))
      const revokeMs = performance.now() - started
      let code = grpc.status.OK
      while (code === grpc.status.OK && performance.now() - started < 2_000) {
        code = await validateOnB(created.token)
        if (code === grpc.status.OK) await new Promise((r) => setTimeout(r, 2))
      }
      expect(code).toBe(grpc.status.UNAUTHENTICATED)
      if (trial < 0) warmup = performance.now() - started
      else {
        latencies.push(performance.now() - started)
        revokeRpc.push(revokeMs)
      }
    }
    expect(latencies.length).toBe(TRIALS)
    const sorted = [...latencies].sort((x, y) => x - y)
    const pct = (p: number) =>
      sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
    console.info(
      `revocation A→B over ${TRIALS} trials (revoke RPC start → B answers UNAUTHENTICATED): p50 ${pct(50).toFixed(1)} ms, p99 ${pct(99).toFixed(1)} ms, max ${sorted[sorted.length - 1]?.toFixed(1)} ms (warm-up trial, not counted: ${warmup.toFixed(1)} ms)`
    )
    console.info(
      `per trial (total/revoke RPC ms): ${latencies.map((l, i) => `${l.toFixed(0)}/${revokeRpc[i]?.toFixed(0)}`).join(" ")}`
    )
    for (const ms of latencies) expect(ms).toBeLessThan(SLA_MS)
  })

  it("while B's LISTEN connection is down, B does not serve from its cache", async () => {
    const org = await a.runPromise(createOrg())
    const admin = (await a.runPromise(bootstrapAdminToken(org.id))).token
    const created = await a.runPromise(
      Effect.flatMap(AuthClient, (c) => c.createToken(admin, { name: "drop", permissions: Permissions.none }))
    )
    expect(await validateOnB(created.token)).toBe(grpc.status.OK)
    // Kill every revocation listener of this database (A's and B's); the feeds reconnect with backoff.
    await withClient(db.url, (c) =>
      c.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'ibex-revocation-feed'"
      )
    )
    let untrustedSeen = false
    const until = performance.now() + 1_000
    while (performance.now() < until && !untrustedSeen) {
      untrustedSeen = !(await b.runPromise(Effect.flatMap(TokenValidator, (v) => v.stats))).trusted
      if (!untrustedSeen) await new Promise((r) => setTimeout(r, 5))
    }
    expect(untrustedSeen).toBe(true)
    expect((await b.runPromise(Effect.flatMap(TokenValidator, (v) => v.stats))).entries).toBe(0)
    // And it comes back.
    const back = performance.now() + 10_000
    let trusted = false
    while (performance.now() < back && !trusted) {
      trusted = (await b.runPromise(Effect.flatMap(TokenValidator, (v) => v.stats))).trusted
      if (!trusted) await new Promise((r) => setTimeout(r, 20))
    }
    expect(trusted).toBe(true)
  })
})
