import { randomBytes } from "node:crypto"
import { type AuthConfig, authServiceOnDatabase } from "@ibex/app-auth"
import {
  AuthClient,
  AuthClientLive,
  AuthGrpcServer,
  defaultArgon2Options,
  SecretHasherArgon2,
  UsageClient,
  UsageClientLive
} from "@ibex/auth-adapter-grpc"
import { issueToken } from "@ibex/auth-core"
import { type OrgId, Permissions, UsageRecord } from "@ibex/domain"
import { migrationsKey, runMigrations } from "@ibex/persistence-pg"
import { type ProvisionedDatabase, provisionDatabase } from "@ibex/testkit/provision"
import { Effect, Layer, Logger, LogLevel, ManagedRuntime, Option, Redacted } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parseInstant, parseUsd, usd } from "../src/metering.js"
import { baseEnv, ibex, inProcess, json, type Run } from "./runIbex.js"

/**
 * `ibex usage` and `ibex budget` against a fresh provisioned database and a real auth gRPC server
 * on it: as a PAT over gRPC, and with --org as a platform admin (directly on the database, and
 * through the auth service with IBEX_ADMIN_TOKEN). Most runs are in-process (the CLI's Effect with
 * the environment as a ConfigProvider and the Console captured); one runs the real binary.
 */

const migrations = { key: migrationsKey(), migrate: (url: string) => runMigrations(url) }

const expectRefused = (run: Run, code: number, message: RegExp) => {
  expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(code)
  expect(run.stderr).toMatch(message)
  expect(`${run.stdout}${run.stderr}`).not.toMatch(/^\s+at\s/m)
}

const config: AuthConfig = {
  host: "127.0.0.1",
  port: 0,
  databaseUrl: Option.none(),
  databaseAppUrl: Option.none(),
  databasePlatformUrl: Option.none(),
  dataDir: Option.none(),
  pepper: Option.none(),
  argon2: defaultArgon2Options,
  cacheTtlMs: 5_000,
  cacheMaxEntries: 10_000,
  invalidationHeartbeatMs: 25,
  feedHeartbeatMs: 25,
  feedStaleAfterMs: 100,
  logLevel: LogLevel.Info
}

let db: ProvisionedDatabase
let dbEnv: Record<string, string | undefined>
let runtime: ManagedRuntime.ManagedRuntime<AuthServices, unknown>
let address: string

const makeAuth = (database: ProvisionedDatabase) =>
  authServiceOnDatabase(
    config,
    {
      url: Redacted.make(database.appUrl),
      appRole: database.appRole,
      maxConnections: database.kind === "pglite" ? 4 : 10
    },
    Redacted.make(randomBytes(32).toString("base64url")),
    { hasher: SecretHasherArgon2(), port: 0, shutdownTimeoutMs: 1_000 }
  ).pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.Warning)))
type AuthServices = Layer.Layer.Success<ReturnType<typeof makeAuth>>

/** A new org (made as the database owner, through the CLI) and a PAT of it with exactly these permissions. */
const orgWithPat = async (...names: ReadonlyArray<Permissions.PermissionName>) => {
  const name = `usage-${randomBytes(4).toString("hex")}`
  const org = json<{ id: OrgId }>(await inProcess(["org", "create", "--name", name, "--json"], dbEnv))
  const pat = await runtime.runPromise(
    issueToken({ orgId: org.id, name: "cli", permissions: Permissions.of(...names), expiresAt: null, createdBy: null })
  )
  return { id: org.id, name, pat: Redacted.value(pat.token) }
}

const record = (orgId: OrgId, fields: Partial<ConstructorParameters<typeof UsageRecord>[0]>) =>
  new UsageRecord({
    requestId: randomBytes(8).toString("hex"),
    orgId,
    agentId: "00000000-0000-4000-8000-00000000000a",
    tokenId: "00000000-0000-4000-8000-00000000000b",
    model: "gpt-test",
    provider: "mock",
    upstreamModel: "mock-1",
    promptTokens: 10,
    completionTokens: 20,
    cachedTokens: 0,
    estimated: false,
    costMicroUsd: 1,
    status: 200,
    latencyMs: 50,
    timeToFirstTokenMs: null,
    stream: false,
    createdAt: new Date(),
    ...fields
  })

const ship = (records: ReadonlyArray<UsageRecord>) =>
  Effect.runPromise(
    Effect.flatMap(UsageClient, (c) => c.record(records)).pipe(
      Effect.provide(UsageClientLive({ target: address })),
      Effect.scoped
    )
  )

beforeAll(async () => {
  db = await provisionDatabase({ migrations })
  dbEnv = { ...baseEnv(), DATABASE_URL: db.url, DATABASE_APP_URL: db.appUrl }
  runtime = ManagedRuntime.make(makeAuth(db))
  address = (await runtime.runPromise(AuthGrpcServer)).address
}, 180_000)

afterAll(async () => {
  await runtime?.dispose()
  await db?.drop()
})

describe("money and time arguments", () => {
  it("USD with 6 decimals, exactly, both ways", async () => {
    expect(usd(0)).toBe("0.000000")
    expect(usd(1)).toBe("0.000001")
    expect(usd(12_345_678)).toBe("12.345678")
    expect(usd(Number.MAX_SAFE_INTEGER)).toBe("9007199254.740991")
    const parse = (s: string) => Effect.runPromise(Effect.either(parseUsd("--monthly-usd", s)))
    expect(await parse("12.5")).toMatchObject({ right: 12_500_000 })
    expect(await parse("0.000001")).toMatchObject({ right: 1 })
    expect(await parse("0")).toMatchObject({ right: 0 })
    for (const bad of ["1.2345678", "-1", "1e3", "", "12,5", "abc"]) expect((await parse(bad))._tag, bad).toBe("Left")
  })

  it("--since / --until: a UTC date, an ISO time with offset, or a duration ago", async () => {
    const now = Date.parse("2025-03-10T12:00:00.000Z")
    const at = (s: string) => Effect.runPromise(Effect.either(parseInstant("--since", s, now)))
    expect(await at("2025-03-01")).toMatchObject({ right: new Date("2025-03-01T00:00:00.000Z") })
    expect(await at("2025-03-01T06:30:00+02:00")).toMatchObject({ right: new Date("2025-03-01T04:30:00.000Z") })
    expect(await at("7d")).toMatchObject({ right: new Date("2025-03-03T12:00:00.000Z") })
    for (const bad of ["yesterday", "2025-02-30", "2025-03-01T06:30:00", "-7d", ""])
      expect((await at(bad))._tag, bad).toBe("Left")
  })
})

describe("ibex usage", () => {
  it(
    "as a PAT with usage:read: a table with totals and USD to 6 decimals, by model, agent or day; JSON alike",
    { timeout: 120_000 },
    async () => {
      const org = await orgWithPat("usage:read")
      const other = await orgWithPat("usage:read")
      const agentA = "00000000-0000-4000-8000-0000000000aa"
      await ship([
        record(org.id, {
          model: "gpt-a",
          agentId: agentA,
          promptTokens: 100,
          completionTokens: 50,
          costMicroUsd: 1_234_567
        }),
        record(org.id, {
          model: "gpt-a",
          promptTokens: 1,
          completionTokens: 2,
          cachedTokens: 1,
          costMicroUsd: 3,
          estimated: true
        }),
        record(org.id, { model: "gpt-b", promptTokens: 7, completionTokens: 8, costMicroUsd: 500_000 }),
        record(other.id, { model: "gpt-a", costMicroUsd: 999_999_999 })
      ])
      const env = { ...baseEnv(), AUTH_GRPC_INSECURE: "true", AUTH_GRPC_TARGET: address, IBEX_TOKEN: org.pat }

      const report = json<{
        org_id: string
        group_by: string
        rows: Array<{ key: string; requests: number; cost_micro_usd: number; cost_usd: string }>
        total: {
          requests: number
          prompt_tokens: number
          cost_micro_usd: number
          cost_usd: string
          estimated_requests: number
        }
      }>(await inProcess(["usage", "--json"], env))
      expect(report).toMatchObject({ org_id: org.id, group_by: "model" })
      expect(report.rows).toEqual([
        expect.objectContaining({ key: "gpt-a", requests: 2, cost_micro_usd: 1_234_570, cost_usd: "1.234570" }),
        expect.objectContaining({ key: "gpt-b", requests: 1, cost_micro_usd: 500_000, cost_usd: "0.500000" })
      ])
      expect(report.total).toMatchObject({
        requests: 3,
        prompt_tokens: 108,
        cost_micro_usd: 1_734_570,
        cost_usd: "1.734570",
        estimated_requests: 1
      })

      // The real binary: the human table, the totals on the last line.
      const human = await ibex(["usage"], env)
      expect(human.code, human.stderr).toBe(0)
      const lines = human.stdout.trimEnd().split("\n")
      expect(lines[0]).toMatch(
        new RegExp(`^Usage of org ${org.id} from \\S+ to \\S+ \\(UTC, end excluded\\), by model$`)
      )
      expect(lines).toContainEqual(
        expect.stringMatching(/^MODEL\s+REQUESTS\s+PROMPT\s+COMPLETION\s+CACHED\s+COST_USD\s+ESTIMATED$/)
      )
      expect(lines).toContainEqual(expect.stringMatching(/^gpt-a\s+2\s+101\s+52\s+1\s+1\.234570\s+1$/))
      expect(lines[lines.length - 1]).toMatch(/^TOTAL\s+3\s+108\s+60\s+1\s+1\.734570\s+1$/)
      expect(human.stdout).not.toContain(org.pat)

      const byAgent = json<{ rows: Array<{ key: string; requests: number }> }>(
        await inProcess(["usage", "--by", "agent", "--json"], env)
      )
      expect(byAgent.rows).toContainEqual(expect.objectContaining({ key: agentA, requests: 1 }))
      const byDay = json<{ rows: Array<{ key: string; requests: number }> }>(
        await inProcess(["usage", "--by", "day", "--since", "2d", "--json"], env)
      )
      expect(byDay.rows).toEqual([expect.objectContaining({ key: new Date().toISOString().slice(0, 10), requests: 3 })])
      // A past range has nothing.
      const empty = await inProcess(["usage", "--since", "2020-01-01", "--until", "2020-02-01"], env)
      expect(empty.code, empty.stderr).toBe(0)
      expect(empty.stdout).toMatch(/No usage recorded in this range/)
    }
  )

  it("refusals: no usage:read, another org by PAT, bad arguments, no token", { timeout: 120_000 }, async () => {
    const org = await orgWithPat("probe:read", "budget:manage")
    const env = { ...baseEnv(), AUTH_GRPC_INSECURE: "true", AUTH_GRPC_TARGET: address, IBEX_TOKEN: org.pat }
    expectRefused(await inProcess(["usage"], env), 1, /lacks usage:read/)
    const reader = await orgWithPat("usage:read")
    // A PAT never reaches another org: --org means acting as a platform admin, which a PAT is not.
    expectRefused(
      await inProcess(["usage", "--org", org.id], {
        ...baseEnv(),
        AUTH_GRPC_INSECURE: "true",
        AUTH_GRPC_TARGET: address,
        IBEX_ADMIN_TOKEN: reader.pat
      }),
      1,
      /refused the platform-admin credential/
    )
    expectRefused(await inProcess(["usage", "--since", "yesterday"], env), 2, /--since must be a date/)
    expectRefused(await inProcess(["usage", "--by", "week"], env), 2, /week|model/)
    expectRefused(
      await inProcess(["usage"], { ...baseEnv(), AUTH_GRPC_INSECURE: "true", AUTH_GRPC_TARGET: address }),
      2,
      /missing token: set IBEX_TOKEN/
    )
    expectRefused(
      await inProcess(["usage", "--since", "2025-03-02", "--until", "2025-03-01"], { ...env, IBEX_TOKEN: reader.pat }),
      2,
      /--until \(2025-03-01T00:00:00\.000Z\) must be after --since \(2025-03-02T00:00:00\.000Z\)/
    )
  })

  it(
    "--org as a platform admin: directly on the database (audited), and through the auth service with IBEX_ADMIN_TOKEN",
    { timeout: 120_000 },
    async () => {
      const org = await orgWithPat()
      await ship([record(org.id, { model: "direct", costMicroUsd: 42 })])
      const direct = await inProcess(["usage", "--org", org.name, "--json"], dbEnv)
      expect(json<{ org_id: string; rows: Array<{ key: string; cost_micro_usd: number }> }>(direct)).toMatchObject({
        org_id: org.id,
        rows: [{ key: "direct", cost_micro_usd: 42 }]
      })
      expect(direct.stderr).toMatch(/"audit":"platform_action".*"operation":"QueryUsage"/)
      const minted = json<{ credential: string }>(
        await inProcess(["admin", "credential", "create", "--name", "usage-ci", "--json"], dbEnv)
      )
      const remote = {
        ...baseEnv(),
        AUTH_GRPC_INSECURE: "true",
        AUTH_GRPC_TARGET: address,
        IBEX_ADMIN_TOKEN: minted.credential
      }
      expect(json<{ org_id: string }>(await inProcess(["usage", "--org", org.id, "--json"], remote)).org_id).toBe(
        org.id
      )
      expectRefused(
        await inProcess(["usage", "--org", "no-such-org"], remote),
        1,
        /no org with id or name "no-such-org"/
      )
      expectRefused(
        await inProcess(["usage", "--org", "no-such-org"], dbEnv),
        1,
        /no org with id or name "no-such-org"/
      )
    }
  )
})

describe("ibex budget", () => {
  it(
    "set and get as a PAT with budget:manage: limits kept unless given, --clear starts from none",
    { timeout: 120_000 },
    async () => {
      const org = await orgWithPat("budget:manage")
      await ship([record(org.id, { costMicroUsd: 2_500_000 })])
      const env = { ...baseEnv(), AUTH_GRPC_INSECURE: "true", AUTH_GRPC_TARGET: address, IBEX_TOKEN: org.pat }
      type Limits = {
        org_id: string
        tokens_per_minute: number | null
        monthly_budget_micro_usd: number | null
        monthly_budget_usd: string | null
        month_spend_micro_usd: number
        month_spend_usd: string
      }
      expect(json<Limits>(await inProcess(["budget", "get", "--json"], env))).toMatchObject({
        org_id: org.id,
        tokens_per_minute: null,
        monthly_budget_micro_usd: null,
        month_spend_micro_usd: 2_500_000,
        month_spend_usd: "2.500000"
      })
      expect(
        json<Limits>(
          await inProcess(["budget", "set", "--monthly-usd", "12.5", "--tokens-per-minute", "1000", "--json"], env)
        )
      ).toMatchObject({
        tokens_per_minute: 1000,
        monthly_budget_micro_usd: 12_500_000,
        monthly_budget_usd: "12.500000"
      })
      // Only the budget changes; the token limit is kept.
      expect(json<Limits>(await inProcess(["budget", "set", "--monthly-usd", "20", "--json"], env))).toMatchObject({
        tokens_per_minute: 1000,
        monthly_budget_micro_usd: 20_000_000
      })
      const human = await ibex(["budget", "get"], env)
      expect(human.code, human.stderr).toBe(0)
      expect(human.stdout).toMatch(/tokens per minute\s+1000/)
      expect(human.stdout).toMatch(/monthly budget\s+20\.000000 USD/)
      expect(human.stdout).toMatch(/spent this month\s+2\.500000 USD \(since \d{4}-\d{2}-01T00:00:00\.000Z\)/)
      expect(
        json<Limits>(await inProcess(["budget", "set", "--clear", "--tokens-per-minute", "5", "--json"], env))
      ).toMatchObject({
        tokens_per_minute: 5,
        monthly_budget_micro_usd: null
      })
      expect(json<Limits>(await inProcess(["budget", "set", "--clear", "--json"], env))).toMatchObject({
        tokens_per_minute: null,
        monthly_budget_micro_usd: null
      })
      const zero = json<Limits>(await inProcess(["budget", "set", "--monthly-usd", "0", "--json"], env))
      expect(zero).toMatchObject({ monthly_budget_micro_usd: 0, monthly_budget_usd: "0.000000" })
    }
  )

  it("refusals: no budget:manage, nothing to set, out-of-range values", { timeout: 120_000 }, async () => {
    const org = await orgWithPat("usage:read")
    const env = { ...baseEnv(), AUTH_GRPC_INSECURE: "true", AUTH_GRPC_TARGET: address, IBEX_TOKEN: org.pat }
    expectRefused(await inProcess(["budget", "get"], env), 1, /lacks budget:manage/)
    expectRefused(await inProcess(["budget", "set", "--monthly-usd", "1"], env), 1, /lacks budget:manage/)
    expectRefused(await inProcess(["budget", "set"], env), 2, /nothing to set/)
    expectRefused(await inProcess(["budget", "set", "--monthly-usd", "1.2345678"], env), 2, /at most 6 decimals/)
    expectRefused(await inProcess(["budget", "set", "--monthly-usd", "-3"], env), 2, /--monthly-usd/)
    expectRefused(await inProcess(["budget", "set", "--tokens-per-minute", "0"], env), 2, /--tokens-per-minute/)
  })

  it(
    "--org as a platform admin, on the database and through the auth service; a PAT's principal carries the new limits",
    { timeout: 120_000 },
    async () => {
      const org = await orgWithPat("chat:completions")
      const direct = json<{ tokens_per_minute: number }>(
        await inProcess(["budget", "set", "--org", org.name, "--tokens-per-minute", "777", "--json"], dbEnv)
      )
      expect(direct.tokens_per_minute).toBe(777)
      const minted = json<{ credential: string }>(
        await inProcess(["admin", "credential", "create", "--name", "budget-ci", "--json"], dbEnv)
      )
      const remote = {
        ...baseEnv(),
        AUTH_GRPC_INSECURE: "true",
        AUTH_GRPC_TARGET: address,
        IBEX_ADMIN_TOKEN: minted.credential
      }
      expect(
        json<{ tokens_per_minute: number; monthly_budget_micro_usd: number }>(
          await inProcess(["budget", "set", "--org", org.id, "--monthly-usd", "3.000001", "--json"], remote)
        )
      ).toMatchObject({ tokens_per_minute: 777, monthly_budget_micro_usd: 3_000_001 })
      expect(
        json<{ monthly_budget_micro_usd: number }>(
          await inProcess(["budget", "get", "--org", org.name, "--json"], remote)
        )
      ).toMatchObject({
        monthly_budget_micro_usd: 3_000_001
      })
      // What Authorize hands the proxy for this org's tokens now carries the limits.
      const principal = await Effect.runPromise(
        Effect.flatMap(AuthClient, (c) => c.authorize(Redacted.make(org.pat), Option.none())).pipe(
          Effect.provide(AuthClientLive({ target: address, deadlineMs: 5_000 })),
          Effect.scoped
        )
      )
      expect(principal.principal).toMatchObject({ tokensPerMinute: 777, monthlyBudgetMicroUsd: 3_000_001 })
    }
  )

  it("--help lists usage and budget", { timeout: 60_000 }, async () => {
    const [top, budget] = await Promise.all([inProcess(["--help"], dbEnv), inProcess(["budget", "--help"], dbEnv)])
    expect(top.stdout).toMatch(/ibex usage --by model --since 7d/)
    expect(top.stdout).toMatch(/ibex budget set --monthly-usd 50/)
    expect(budget.stdout).toMatch(/monthly budget in USD/)
    // A group's own help names what it holds (@effect/cli lists children only under the root).
    expect(budget.stdout).toMatch(/Subcommands: get, set \(`ibex budget <subcommand> --help`\)/)
  })
})
