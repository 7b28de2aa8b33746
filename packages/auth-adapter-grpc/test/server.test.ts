import * as grpc from "@grpc/grpc-js"
import { AuthGateway, ErrorCatalogue, Permissions, TokenStore } from "@ibex/domain"
import { SecretHasherCalls, setupTwoOrgs, type TestOrgContext } from "@ibex/testkit"
import { Effect, Exit, type Layer, ManagedRuntime, Metric, Redacted } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { AuthClient, AuthGrpcServer, REASON_TRAILER, tokenCreatedTotal, tokenRevokedTotal } from "../src/index.js"
import { AuthServiceClient, bearer, capturedLogs, listServicesByReflection, memoryStack, rawCall } from "./harness.js"

const stack = memoryStack()
type Services = Layer.Layer.Success<typeof stack>
let runtime: ManagedRuntime.ManagedRuntime<Services, unknown>
let orgA: TestOrgContext
let orgB: TestOrgContext
let raw: AuthServiceClient
let address: string
const run = <A, E>(effect: Effect.Effect<A, E, Services>) => runtime.runPromise(effect)
const exit = <A, E>(effect: Effect.Effect<A, E, Services>) => runtime.runPromiseExit(effect)
const failureTag = async <A, E extends { _tag: string }>(effect: Effect.Effect<A, E, Services>) => {
  const result = await exit(effect)
  if (Exit.isSuccess(result)) return "success"
  return result.cause._tag === "Fail" ? (result.cause.error as { _tag: string })._tag : result.cause._tag
}
const secretsSeen: Array<string> = []
const stdout: Array<string> = []
const realStdout = process.stdout.write.bind(process.stdout)
const realStderr = process.stderr.write.bind(process.stderr)

beforeAll(async () => {
  const spy =
    (real: typeof process.stdout.write) =>
    (chunk: unknown, ...rest: Array<unknown>): boolean => {
      stdout.push(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"))
      return (real as (c: unknown, ...r: Array<unknown>) => boolean)(chunk, ...rest)
    }
  process.stdout.write = spy(realStdout) as typeof process.stdout.write
  process.stderr.write = spy(realStderr) as typeof process.stderr.write
  runtime = ManagedRuntime.make(stack)
  const fixtures = await run(setupTwoOrgs())
  orgA = fixtures.orgA
  orgB = fixtures.orgB
  address = (await run(AuthGrpcServer)).address
  raw = new AuthServiceClient(address, grpc.credentials.createInsecure())
  for (const org of [orgA, orgB]) for (const t of Object.values(org.tokens)) secretsSeen.push(Redacted.value(t.token))
})

afterAll(async () => {
  raw?.close()
  await runtime?.dispose()
  process.stdout.write = realStdout
  process.stderr.write = realStderr
})

const gateway = AuthGateway
const client = AuthClient

describe("AuthService over gRPC (memory stores)", () => {
  it("bootstrap admin → create → validate → revoke → validate fails; the plaintext comes back once", async () => {
    const created = await run(
      Effect.flatMap(client, (c) =>
        c.createToken(orgA.token, { name: "ci", permissions: Permissions.of("chat:completions") })
      )
    )
    secretsSeen.push(created.token)
    expect(created.token).toMatch(/^ibex_pat_[0-9a-f-]{36}_[A-Za-z0-9_-]{43}$/)
    const info = created.info!
    expect(info.orgId).toBe(orgA.orgId)
    expect(info.displayPrefix).toBe(`ibex_pat_${info.id.slice(0, 8)}`)
    expect(created.token.startsWith(`ibex_pat_${info.id}_`)).toBe(true)

    const principal = await run(Effect.flatMap(gateway, (g) => g.validateToken(Redacted.make(created.token))))
    expect(principal).toMatchObject({
      orgId: orgA.orgId,
      tokenId: info.id,
      permissions: Permissions.of("chat:completions")
    })

    const listed = await run(Effect.flatMap(client, (c) => c.listTokens(orgA.token, { pageSize: 200 })))
    const listedText = JSON.stringify(listed, (_, v) => (typeof v === "bigint" ? v.toString() : v))
    expect(listed.tokens.map((t) => t.id)).toContain(info.id)
    expect(listedText).not.toContain(created.token)
    expect(listedText).not.toContain(created.token.slice(-43))

    const revoked = await run(Effect.flatMap(client, (c) => c.revokeToken(orgA.token, info.id)))
    expect(revoked.info?.revokedAt).toBeInstanceOf(Date)
    expect(JSON.stringify(revoked, (_, v) => (typeof v === "bigint" ? v.toString() : v))).not.toContain(
      created.token.slice(-43)
    )
    expect(await failureTag(Effect.flatMap(gateway, (g) => g.validateToken(Redacted.make(created.token))))).toBe(
      "InvalidToken"
    )
    // Revoking again succeeds and keeps the first time.
    const again = await run(Effect.flatMap(client, (c) => c.revokeToken(orgA.token, info.id)))
    expect(again.info?.revokedAt?.getTime()).toBe(revoked.info?.revokedAt?.getTime())
  })

  it("a caller without tokens:create cannot create, and cannot grant what it does not hold", async () => {
    const noCreate = await rawCall(
      raw.createToken.bind(raw),
      { name: "x", permissions: 0n },
      bearer(orgA.tokens.chatOnly.token)
    )
    expect(noCreate.error?.code).toBe(grpc.status.PERMISSION_DENIED)
    expect(noCreate.error?.details).toBe(ErrorCatalogue.InsufficientPermissions.message)
    expect(noCreate.error?.metadata.get(REASON_TRAILER)).toEqual(["INSUFFICIENT_PERMISSIONS"])

    // A creator holding only tokens:create cannot mint a token with chat:completions.
    const limited = await run(
      Effect.flatMap(client, (c) =>
        c.createToken(orgA.token, { name: "limited", permissions: Permissions.of("tokens:create") })
      )
    )
    secretsSeen.push(limited.token)
    const escalate = await rawCall(
      raw.createToken.bind(raw),
      { name: "x", permissions: Permissions.of("chat:completions") },
      bearer(limited.token)
    )
    expect(escalate.error?.code).toBe(grpc.status.PERMISSION_DENIED)
    expect(escalate.error?.metadata.get(REASON_TRAILER)).toEqual(["INSUFFICIENT_PERMISSIONS"])
    const escalateBits = await rawCall(
      raw.createToken.bind(raw),
      { name: "x", permissions: 1n << 63n },
      bearer(orgA.token)
    )
    expect(escalateBits.error?.code).toBe(grpc.status.PERMISSION_DENIED)
  })

  it("management calls without a valid bearer answer UNAUTHENTICATED", async () => {
    for (const md of [
      new grpc.Metadata(),
      bearer("nonsense"),
      bearer(orgA.tokens.revoked.token),
      bearer(orgA.tokens.expired.token)
    ]) {
      const result = await rawCall(raw.listTokens.bind(raw), { pageSize: 0, pageToken: "" }, md)
      expect(result.error?.code).toBe(grpc.status.UNAUTHENTICATED)
    }
  })

  it("cross-tenant revoke is NOT_FOUND, exactly like a missing token, and changes nothing", async () => {
    const cross = await rawCall(
      raw.revokeToken.bind(raw),
      { tokenId: orgB.tokens.chatOnly.info.id },
      bearer(orgA.token)
    )
    const missing = await rawCall(
      raw.revokeToken.bind(raw),
      { tokenId: "00000000-0000-4000-8000-000000000000" },
      bearer(orgA.token)
    )
    for (const r of [cross, missing]) {
      expect(r.error?.code).toBe(grpc.status.NOT_FOUND)
      expect(r.error?.details).toBe(ErrorCatalogue.ResourceNotFound.message)
      expect(r.error?.metadata.get(REASON_TRAILER)).toEqual(["NOT_FOUND"])
    }
    const stillValid = await run(Effect.flatMap(gateway, (g) => g.validateToken(orgB.tokens.chatOnly.token)))
    expect(stillValid.orgId).toBe(orgB.orgId)
  })

  it("a token id that is not a UUID is INVALID_ARGUMENT with VALIDATION_FAILED", async () => {
    const r = await rawCall(raw.revokeToken.bind(raw), { tokenId: "not-a-uuid" }, bearer(orgA.token))
    expect(r.error?.code).toBe(grpc.status.INVALID_ARGUMENT)
    expect(r.error?.metadata.get(REASON_TRAILER)).toEqual(["VALIDATION_FAILED"])
    const v = await rawCall(raw.verifyAgent.bind(raw), { orgId: orgA.orgId, agentId: "x" })
    expect(v.error?.code).toBe(grpc.status.INVALID_ARGUMENT)
    const name = await rawCall(raw.createToken.bind(raw), { name: "  ", permissions: 0n }, bearer(orgA.token))
    expect(name.error?.code).toBe(grpc.status.INVALID_ARGUMENT)
    expect(name.error?.metadata.get(REASON_TRAILER)).toEqual(["VALIDATION_FAILED"])
    const past = await rawCall(
      raw.createToken.bind(raw),
      { name: "p", permissions: 0n, expiresAt: new Date(Date.now() - 1000) },
      bearer(orgA.token)
    )
    expect(past.error?.code).toBe(grpc.status.INVALID_ARGUMENT)
  })

  it("ListTokens never shows another org's tokens; pages are bound to the org", async () => {
    const idsB = new Set(Object.values(orgB.tokens).map((t) => t.info.id))
    const seen: Array<string> = []
    let pageToken = ""
    for (let i = 0; i < 20; i++) {
      const page = await run(Effect.flatMap(client, (c) => c.listTokens(orgA.token, { pageSize: 2, pageToken })))
      expect(page.tokens.length).toBeLessThanOrEqual(2)
      for (const t of page.tokens) {
        expect(t.orgId).toBe(orgA.orgId)
        expect(idsB.has(t.id)).toBe(false)
        seen.push(t.id)
      }
      if (page.nextPageToken === "") break
      // Org B cannot use org A's page token.
      const stolen = await rawCall(
        raw.listTokens.bind(raw),
        { pageSize: 2, pageToken: page.nextPageToken },
        bearer(orgB.token)
      )
      expect(stolen.error?.code).toBe(grpc.status.INVALID_ARGUMENT)
      expect(stolen.error?.metadata.get(REASON_TRAILER)).toEqual(["VALIDATION_FAILED"])
      pageToken = page.nextPageToken
    }
    expect(new Set(seen).size).toBe(seen.length)
    for (const t of Object.values(orgA.tokens)) expect(seen).toContain(t.info.id)
    const forged = await rawCall(raw.listTokens.bind(raw), { pageSize: 2, pageToken: "MTIz.abc" }, bearer(orgA.token))
    expect(forged.error?.code).toBe(grpc.status.INVALID_ARGUMENT)
  })

  it("unknown, malformed, wrong-secret, revoked and expired tokens get the same status, message and trailers", async () => {
    const full = Redacted.value(orgA.token)
    const wrongSecret = `${full.slice(0, -43)}${"A".repeat(42)}A`
    const unknown = `ibex_pat_00000000-0000-4000-8000-000000000001_${full.slice(-43)}`
    const cases = [
      "garbage",
      unknown,
      wrongSecret,
      Redacted.value(orgA.tokens.revoked.token),
      Redacted.value(orgA.tokens.expired.token)
    ]
    const results = await Promise.all(cases.map((token) => rawCall(raw.validateToken.bind(raw), { token })))
    for (const r of results) {
      expect(r.error?.code).toBe(grpc.status.UNAUTHENTICATED)
      expect(r.error?.details).toBe(ErrorCatalogue.InvalidToken.message)
      expect(r.error?.metadata.get(REASON_TRAILER)).toEqual([])
    }
  })

  it("a second validation does not call the SecretHasher; a revoked token is never served from the cache", async () => {
    const created = await run(
      Effect.flatMap(client, (c) =>
        c.createToken(orgA.token, { name: "cache", permissions: Permissions.of("probe:read") })
      )
    )
    secretsSeen.push(created.token)
    const token = Redacted.make(created.token)
    const calls = await run(SecretHasherCalls)
    const before = calls.verify
    await run(Effect.flatMap(gateway, (g) => g.validateToken(token)))
    expect(calls.verify).toBe(before + 1)
    for (let i = 0; i < 20; i++) await run(Effect.flatMap(gateway, (g) => g.validateToken(token)))
    expect(calls.verify).toBe(before + 1)

    await run(Effect.flatMap(client, (c) => c.revokeToken(orgA.token, created.info!.id)))
    for (let i = 0; i < 5; i++)
      expect(await failureTag(Effect.flatMap(gateway, (g) => g.validateToken(token)))).toBe("InvalidToken")
  })

  it("VerifyAgent: active passes, inactive is AgentSuspended with its status, another org's agent is AgentNotAuthorized", async () => {
    await run(Effect.flatMap(gateway, (g) => g.verifyAgent(orgA.orgId, orgA.agentId)))
    const paused = await exit(Effect.flatMap(gateway, (g) => g.verifyAgent(orgA.orgId, orgA.agents.paused)))
    expect(paused).toMatchObject({ cause: { error: { _tag: "AgentSuspended", status: "paused" } } })
    const archived = await exit(Effect.flatMap(gateway, (g) => g.verifyAgent(orgA.orgId, orgA.agents.archived)))
    expect(archived).toMatchObject({ cause: { error: { _tag: "AgentSuspended", status: "archived" } } })
    expect(await failureTag(Effect.flatMap(gateway, (g) => g.verifyAgent(orgA.orgId, orgB.agentId)))).toBe(
      "AgentNotAuthorized"
    )
    const rawCross = await rawCall(raw.verifyAgent.bind(raw), { orgId: orgA.orgId, agentId: orgB.agentId })
    expect(rawCross.error?.code).toBe(grpc.status.PERMISSION_DENIED)
    expect(rawCross.error?.metadata.get(REASON_TRAILER)).toEqual(["AGENT_NOT_AUTHORIZED"])
  })

  it("serves grpc.health.v1 and reflection", async () => {
    expect(await run(Effect.flatMap(client, (c) => c.checkHealth()))).toBe("SERVING")
    expect(await run(Effect.flatMap(client, (c) => c.checkHealth("ibex.auth.v1.AuthService")))).toBe("SERVING")
    await run(Effect.flatMap(AuthGrpcServer, (s) => s.setServing(false)))
    expect(await run(Effect.flatMap(client, (c) => c.checkHealth()))).toBe("NOT_SERVING")
    await run(Effect.flatMap(AuthGrpcServer, (s) => s.setServing(true)))
    expect(await run(Effect.flatMap(AuthGrpcServer, (s) => Effect.succeed(s.reflection)))).toBe(true)
    const services = await listServicesByReflection(address)
    expect(services).toEqual(expect.arrayContaining(["ibex.auth.v1.AuthService", "grpc.health.v1.Health"]))
  })

  it("counts created and revoked tokens", async () => {
    const created = await run(Metric.value(tokenCreatedTotal))
    const revoked = await run(Metric.value(tokenRevokedTotal))
    expect(created.count).toBeGreaterThanOrEqual(3)
    expect(revoked.count).toBeGreaterThanOrEqual(2)
  })

  it("audits token_created / token_revoked / refusals as JSON records, and no log line carries a token, secret or hash", async () => {
    const records = capturedLogs.filter((l) => l.includes('"audit"'))
    expect(
      records.some((l) => l.includes('"audit":"token_created"') && l.includes('"display_prefix":"ibex_pat_'))
    ).toBe(true)
    expect(records.some((l) => l.includes('"audit":"token_revoked"') && l.includes('"token_id"'))).toBe(true)
    expect(records.some((l) => l.includes('"audit":"management_refused"'))).toBe(true)

    const hashes = await run(
      Effect.gen(function* () {
        const store = yield* TokenStore
        const out: Array<string> = []
        for (const org of [orgA, orgB])
          for (const t of Object.values(org.tokens)) {
            const c = yield* store.findCredential(t.info.id)
            if (c._tag === "Some") out.push(c.value.secretHash)
          }
        return out
      })
    )
    expect(secretsSeen.length).toBeGreaterThan(10)
    const everything = [...capturedLogs, ...stdout].join("\n")
    for (const secret of secretsSeen) {
      expect(everything).not.toContain(secret)
      expect(everything).not.toContain(secret.slice(-43))
    }
    for (const hash of hashes) expect(everything).not.toContain(hash)
    expect(everything).not.toContain("$argon2")
    expect(everything).not.toContain("$memhash$")
  })
})
