import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { setupOrg, type TestOrgContext } from "@ibex/testkit"
import { type Layer, ManagedRuntime, Redacted } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { AuthGrpcServer } from "../src/index.js"
import { memoryStack } from "./harness.js"

/**
 * Server reflection as a real client uses it: `buf curl` (the binary @bufbuild/buf ships) builds
 * the schema from what the server sends and calls through it. A descriptor without its imports
 * fails here with "failed to find service named … in schema".
 */
const buf = fileURLToPath(new URL("../../../node_modules/.bin/buf", import.meta.url))

const stack = memoryStack()
let runtime: ManagedRuntime.ManagedRuntime<Layer.Layer.Success<typeof stack>, unknown>
let org: TestOrgContext
let base: string

beforeAll(async () => {
  runtime = ManagedRuntime.make(stack)
  org = await runtime.runPromise(setupOrg())
  base = `http://${(await runtime.runPromise(AuthGrpcServer)).address}`
})
afterAll(() => runtime?.dispose())

interface Curl {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Async (the server answers from this process's event loop), never rejects. */
const bufCurl = (args: ReadonlyArray<string>): Promise<Curl> =>
  new Promise((resolve) => {
    execFile(
      buf,
      ["curl", "--protocol", "grpc", "--http2-prior-knowledge", "--timeout", "10s", ...args],
      { timeout: 30_000 },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr })
    )
  })

const call = (method: string, data: unknown, headers: ReadonlyArray<string> = []) =>
  bufCurl([...headers.flatMap((h) => ["-H", h]), "-d", JSON.stringify(data), `${base}/${method}`])

const json = (c: Curl) => JSON.parse(c.stdout) as Record<string, unknown>

describe("gRPC reflection through buf curl", () => {
  it("--list-methods lists every method of AuthService, UsageService and Health", async () => {
    const listed = await bufCurl(["--list-methods", base])
    expect(listed.stderr).toBe("")
    expect(listed.code).toBe(0)
    expect(listed.stdout.trim().split("\n")).toEqual(
      expect.arrayContaining([
        "ibex.auth.v1.AuthService/ValidateToken",
        "ibex.auth.v1.AuthService/VerifyAgent",
        "ibex.auth.v1.AuthService/CreateToken",
        "ibex.auth.v1.AuthService/RevokeToken",
        "ibex.auth.v1.AuthService/ListTokens",
        "ibex.auth.v1.UsageService/RecordUsage",
        "ibex.auth.v1.UsageService/GetMonthSpend",
        "ibex.auth.v1.UsageService/QueryUsage",
        "ibex.auth.v1.UsageService/GetOrgLimits",
        "ibex.auth.v1.UsageService/SetOrgLimits",
        "grpc.health.v1.Health/Check",
        "grpc.health.v1.Health/List"
      ])
    )
  }, 60_000)

  it("calls each method through the reflected schema and gets the server's answer", async () => {
    const bearer = `authorization: Bearer ${Redacted.value(org.token)}`

    const health = await call("grpc.health.v1.Health/Check", { service: "ibex.auth.v1.AuthService" })
    expect(health.code, health.stderr).toBe(0)
    expect(json(health)).toEqual({ status: "SERVING" })

    const validated = await call("ibex.auth.v1.AuthService/ValidateToken", { token: Redacted.value(org.token) })
    expect(validated.code, validated.stderr).toBe(0)
    expect(json(validated)).toMatchObject({ orgId: org.orgId })

    const agent = await call("ibex.auth.v1.AuthService/VerifyAgent", { orgId: org.orgId, agentId: org.agentId })
    expect(agent.code, agent.stderr).toBe(0)

    const created = await call("ibex.auth.v1.AuthService/CreateToken", { name: "via-reflection", permissions: "1" }, [
      bearer
    ])
    expect(created.code, created.stderr).toBe(0)
    const info = json(created).info as { id: string; createdAt: string }
    // The Timestamp import resolves: the field arrives as RFC 3339 text.
    expect(info.createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T/)

    const listed = await call("ibex.auth.v1.AuthService/ListTokens", { pageSize: 200 }, [bearer])
    expect(listed.code, listed.stderr).toBe(0)
    expect(JSON.stringify(json(listed))).toContain(info.id)

    const revoked = await call("ibex.auth.v1.AuthService/RevokeToken", { tokenId: info.id }, [bearer])
    expect(revoked.code, revoked.stderr).toBe(0)
    expect(json(revoked)).toMatchObject({ info: { id: info.id } })

    // UsageService: a record through the reflected schema (uint64 as JSON text, an optional field,
    // a Timestamp), then the report and the limits as the org's admin token.
    const record = {
      requestId: `reflection-${Date.now()}`,
      orgId: org.orgId,
      agentId: org.agentId,
      tokenId: org.tokens.full.info.id,
      model: "reflected-model",
      provider: "p",
      upstreamModel: "u",
      promptTokens: 1,
      completionTokens: 2,
      costMicroUsd: "5",
      status: 200,
      latencyMs: 3,
      timeToFirstTokenMs: 1,
      stream: true,
      createdAt: new Date().toISOString()
    }
    const recorded = await call("ibex.auth.v1.UsageService/RecordUsage", { records: [record] })
    expect(recorded.code, recorded.stderr).toBe(0)
    expect(json(recorded)).toEqual({ inserted: 1 })
    const queried = await call("ibex.auth.v1.UsageService/QueryUsage", { groupBy: "USAGE_GROUP_BY_MODEL" }, [bearer])
    expect(queried.code, queried.stderr).toBe(0)
    expect(json(queried).rows).toEqual([
      expect.objectContaining({ key: "reflected-model", requests: "1", costMicroUsd: "5" })
    ])
    const limited = await call("ibex.auth.v1.UsageService/SetOrgLimits", { tokensPerMinute: 1000 }, [bearer])
    expect(limited.code, limited.stderr).toBe(0)
    expect(json(limited)).toMatchObject({
      limits: { orgId: org.orgId, tokensPerMinute: 1000, monthSpendMicroUsd: "5" }
    })
    const read = await call("ibex.auth.v1.UsageService/GetOrgLimits", {}, [bearer])
    expect(read.code, read.stderr).toBe(0)
    expect(json(read)).toMatchObject({ limits: { tokensPerMinute: 1000 } })

    // A refusal is the server's status, not a client-side schema failure.
    const refused = await call("ibex.auth.v1.AuthService/ListTokens", {})
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toContain("unauthenticated")
    expect(refused.stderr).not.toContain("schema")
  }, 120_000)

  it("every listed method resolves its schema (a method added later is covered too)", async () => {
    const listed = await bufCurl(["--list-methods", base])
    const methods = listed.stdout.trim().split("\n")
    expect(methods.length).toBeGreaterThanOrEqual(8)
    for (const method of methods) {
      // An empty request with a short budget: any answer (or a deadline for a stream) is fine;
      // what must never happen is a schema the client cannot build.
      const answer = await bufCurl(["--timeout", "2s", "-d", "{}", `${base}/${method}`])
      expect(answer.stderr, method).not.toMatch(/schema|unresolvable|not found/i)
    }
  }, 120_000)
})
