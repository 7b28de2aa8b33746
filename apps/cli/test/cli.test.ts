import { randomBytes } from "node:crypto"
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { type AuthConfig, authServiceOnDatabase } from "@ibex/app-auth"
import { GRPC_INSECURE_VAR, TLS_CA_VAR, TLS_SERVER_NAME_VAR } from "@ibex/app-common"
import { AuthGrpcServer, defaultArgon2Options, SecretHasherArgon2 } from "@ibex/auth-adapter-grpc"
import type { OrgId } from "@ibex/domain"
import { loadMigrations, migrationsKey, runMigrations, startEmbedded, writeStackEndpoint } from "@ibex/persistence-pg"
import { bootstrapAdminToken } from "@ibex/testkit"
import { type ProvisionedDatabase, provisionDatabase } from "@ibex/testkit/provision"
import { Effect, Exit, Layer, Logger, LogLevel, ManagedRuntime, Option, Redacted, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cliEnvVars } from "../src/index.js"
import { baseEnv, ibex, inProcess, json, type Run } from "./runIbex.js"

/**
 * The real CLI, as a user runs it: `node apps/cli/bin/ibex.mjs …` in a child process, against
 * a fresh provisioned database (DATABASE_URL's server when set, else PGlite) and, for the
 * token commands, a real auth gRPC server started here on that database.
 */

const migrations = { key: migrationsKey(), migrate: (url: string) => runMigrations(url) }

/** A refused command: non-zero exit, a message, no stack trace. */
const expectRefused = (run: Run, code: number, message: RegExp) => {
  expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(code)
  expect(run.stderr).toMatch(message)
  expect(`${run.stdout}${run.stderr}`).not.toMatch(/^\s+at\s/m)
  expect(`${run.stdout}${run.stderr}`).not.toMatch(/node_modules|\.ts:\d+/)
}

const PAT = /ibex_pat_[0-9a-f-]{36}_[A-Za-z0-9_-]+/g

let db: ProvisionedDatabase
let dbEnv: Record<string, string | undefined>

beforeAll(async () => {
  db = await provisionDatabase({ migrations })
  dbEnv = { ...baseEnv(), DATABASE_URL: db.url, DATABASE_APP_URL: db.appUrl }
}, 120_000)

afterAll(async () => {
  await db?.drop()
})

describe("cliEnvVars", () => {
  it("documents exactly the variables the CLI reads", () => {
    const dir = fileURLToPath(new URL("../src/", import.meta.url))
    const read = new Set<string>()
    const walk = (d: string): Array<string> =>
      readdirSync(d, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith(".ts") ? [join(d, e.name)] : []
      )
    for (const file of walk(dir)) {
      const text = readFileSync(file, "utf8")
      for (const m of text.matchAll(/(?:Config\.\w+|nonEmpty)\("([A-Z][A-Z0-9_]+)"\)|process\.env\.([A-Z][A-Z0-9_]+)/g))
        read.add((m[1] ?? m[2]) as string)
      // The TLS variables are read through app-common's grpcTlsConfig: the side's two, and the shared ones.
      for (const m of text.matchAll(/grpcTlsConfig\("([A-Z][A-Z0-9_]+)", "([A-Z][A-Z0-9_]+)"/g))
        for (const name of [m[1], m[2], TLS_CA_VAR, GRPC_INSECURE_VAR, TLS_SERVER_NAME_VAR]) read.add(name as string)
    }
    expect([...read].sort()).toEqual(cliEnvVars.map((v) => v.name).sort())
    for (const v of cliEnvVars)
      expect(v.secret).toBe(["DATABASE_URL", "DATABASE_APP_URL", "IBEX_TOKEN", "IBEX_ADMIN_TOKEN"].includes(v.name))
  })
})

describe("ibex admin operator bootstrap", () => {
  it(
    "creates the console's first platform admin once, its password printed once; then creates nothing",
    { timeout: 120_000 },
    async () => {
      const first = await inProcess(["admin", "operator", "bootstrap", "--email", "Ops@Example.test", "--json"], dbEnv)
      expect(first.code, first.stderr).toBe(0)
      const created = JSON.parse(first.stdout) as { created: boolean; email: string; password: string }
      expect(created).toMatchObject({ created: true, email: "ops@example.test" })
      expect(created.password.length).toBeGreaterThanOrEqual(12)
      expect(first.stderr).not.toContain(created.password)
      const again = await inProcess(["admin", "operator", "bootstrap", "--json"], dbEnv)
      expect([again.code, JSON.parse(again.stdout)]).toEqual([0, { created: false }])
      const bad = await inProcess(["admin", "operator", "bootstrap", "--email", "not-an-address"], dbEnv)
      expect(bad.code).toBe(2)
    }
  )
})

describe("ibex db", () => {
  it(
    "a database command needs no CLI certificate, though the shell holds the services' TLS variables; a token command does",
    { timeout: 120_000 },
    async () => {
      // A shell (or .env) shared with the services: their CA, no certificate of the CLI's own.
      const shared = { ...dbEnv, IBEX_TLS_CA_FILE: "/nonexistent/ca.pem" }
      const migrated = await inProcess(["db", "migrate", "--json"], shared)
      expect(migrated.code, migrated.stderr).toBe(0)
      const dialing = await inProcess(["token", "list", "--json"], { ...shared, IBEX_TOKEN: "x" })
      expect(dialing.code).toBe(2)
      expect(dialing.stderr).toContain("config_invalid")
      expect(dialing.stderr).toContain("IBEX_TLS_CA_FILE")
    }
  )

  it("migrate twice on the provisioned database: up to date, exit 0", { timeout: 120_000 }, async () => {
    const [first, second] = await Promise.all([
      ibex(["db", "migrate"], dbEnv),
      ibex(["db", "migrate", "--json"], dbEnv)
    ])
    expect(first.code, first.stderr).toBe(0)
    expect(first.stdout).toMatch(new RegExp(`Up to date \\(${loadMigrations().length} migrations applied earlier\\)`))
    expect(json(second)).toMatchObject({ applied: [], already_applied: loadMigrations().length })
  })

  it(
    "migrate twice on a fresh embedded data folder; a folder held by another process is refused clearly",
    { timeout: 180_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "ibex-cli-"))
      const env = { ...baseEnv(), IBEX_DATA_DIR: join(dir, "pgdata") }
      try {
        const first = await ibex(["db", "migrate"], env)
        expect(first.code, first.stderr).toBe(0)
        expect(first.stdout).toMatch(/Migrating embedded database/)
        expect(first.stdout).toMatch(new RegExp(`Applied ${loadMigrations().length} migration\\(s\\)`))
        expect(json(await ibex(["db", "migrate", "--json"], env))).toMatchObject({
          applied: [],
          already_applied: loadMigrations().length
        })

        // What a running stack does: keep the folder open. The CLI must not open it as well.
        const scope = Effect.runSync(Scope.make())
        await Effect.runPromise(Scope.extend(startEmbedded({ dataDir: env.IBEX_DATA_DIR, migrate: false }), scope))
        try {
          // A holder that records no ibex-stack.json (not a stack the CLI can work through).
          const held = await ibex(["agent", "list", "--org", "00000000-0000-4000-8000-000000000000"], env)
          expectRefused(held, 1, /in use by another process .*no ibex-stack\.json.*stop it .*DATABASE_URL/)
        } finally {
          await Effect.runPromise(Scope.close(scope, Exit.void))
        }
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }
  )
})

describe("ibex org / agent", () => {
  it("org create → agent create → agent pause → agent list shows it paused", { timeout: 180_000 }, async () => {
    const name = `cli-${randomBytes(4).toString("hex")}`
    const org = json<{ id: string; name: string; rate_limit_per_minute: number }>(
      await ibex(["org", "create", "--name", name, "--rate-limit", "60", "--json"], dbEnv)
    )
    expect(org).toMatchObject({ name, rate_limit_per_minute: 60 })
    const agent = json<{ id: string; status: string }>(
      await ibex(["agent", "create", "--org", org.id, "--name", "bot", "--json"], dbEnv)
    )
    expect(agent.status).toBe("active")
    const paused = await ibex(["agent", "pause", "--org", org.id, agent.id], dbEnv)
    expect(paused.code, paused.stderr).toBe(0)
    expect(paused.stdout).toMatch(/is now paused/)
    const [listed, human, duplicate, missingName] = await Promise.all([
      ibex(["agent", "list", "--org", org.id, "--json"], dbEnv),
      ibex(["agent", "list", "--org", org.id], dbEnv),
      ibex(["org", "create", "--name", name], dbEnv),
      ibex(["agent", "create", "--org", org.id], dbEnv)
    ])
    expect(json<{ agents: Array<unknown> }>(listed).agents).toEqual([
      expect.objectContaining({ id: agent.id, org_id: org.id, name: "bot", status: "paused" })
    ])
    expect(human.stdout).toMatch(new RegExp(`${agent.id}\\s+paused`))
    expectRefused(duplicate, 2, /already exists/)
    expectRefused(missingName, 2, /Expected to find option: '--name'/)
  })

  it("bad input exits non-zero with a message and no stack trace (in-process)", { timeout: 60_000 }, async () => {
    const [badUuid, noName, noOrg, badAgent, badRate, unknownAgent] = await Promise.all([
      inProcess(["agent", "create", "--org", "not-a-uuid", "--name", "x"], dbEnv),
      inProcess(["org", "create"], dbEnv),
      inProcess(["agent", "list", "--org", "00000000-0000-4000-8000-000000000000", "--json"], dbEnv),
      inProcess(["agent", "pause", "--org", "00000000-0000-4000-8000-000000000000", "nope"], dbEnv),
      inProcess(["org", "create", "--name", "x", "--rate-limit", "0"], dbEnv),
      inProcess(["agent", "frobnicate"], dbEnv)
    ])
    // --org takes an id or a name: an unknown name is an unknown org.
    expectRefused(badUuid, 1, /no org with id or name "not-a-uuid"/)
    expectRefused(noName, 2, /--name/)
    expectRefused(noOrg, 1, /no org with id/)
    expect(JSON.parse(noOrg.stderr)).toMatchObject({ error: { message: expect.stringMatching(/no org/) } })
    expectRefused(badAgent, 2, /agent-id must be a UUID/)
    expectRefused(badRate, 2, /--rate-limit must be a positive integer/)
    expect(unknownAgent.code).not.toBe(0)
  })
})

describe("ibex token (over gRPC to a real auth server)", () => {
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
  const makeAuth = () =>
    authServiceOnDatabase(
      config,
      { url: Redacted.make(db.appUrl), appRole: db.appRole, maxConnections: db.kind === "pglite" ? 4 : 10 },
      Redacted.make(randomBytes(32).toString("base64url")),
      { hasher: SecretHasherArgon2(), port: 0, shutdownTimeoutMs: 1_000 }
    ).pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.Warning)))
  let runtime: ManagedRuntime.ManagedRuntime<Layer.Layer.Success<ReturnType<typeof makeAuth>>, unknown>
  let env: Record<string, string | undefined>
  let admin: string

  beforeAll(async () => {
    runtime = ManagedRuntime.make(makeAuth())
    const { address } = await runtime.runPromise(AuthGrpcServer)
    const org = json<{ id: string }>(
      await ibex(["org", "create", "--name", `tokens-${randomBytes(4).toString("hex")}`, "--json"], dbEnv)
    )
    const created = await runtime.runPromise(bootstrapAdminToken(org.id as OrgId))
    admin = Redacted.value(created.token)
    env = { ...baseEnv(), AUTH_GRPC_INSECURE: "true", AUTH_GRPC_TARGET: address, IBEX_TOKEN: admin }
  }, 180_000)

  afterAll(async () => {
    await runtime?.dispose()
  })

  it(
    "create prints the new PAT once; list never shows a PAT or a hash; revoke revokes",
    { timeout: 180_000 },
    async () => {
      const created = await ibex(
        ["token", "create", "--name", "ci", "--permissions", "probe:read,chat:completions", "--expires-in", "30d"],
        env
      )
      expect(created.code, created.stderr).toBe(0)
      const pats = created.stdout.match(PAT) ?? []
      expect(pats).toHaveLength(1)
      expect(created.stdout).toMatch(/shown once: it cannot be retrieved again/)
      expect(created.stdout).toMatch(/permissions\s+probe:read, chat:completions/)
      expect(`${created.stdout}${created.stderr}`).not.toContain(admin)
      const pat = pats[0] as string
      const createdId = /^Created token (\S+)/m.exec(created.stdout)?.[1]

      const viaJson = json<{ token: string; info: { id: string; permissions: Array<string>; expires_at: string } }>(
        await ibex(["token", "create", "--name", "ci-json", "--permissions", "probe:read", "--json"], env)
      )
      expect(viaJson.token).toMatch(/^ibex_pat_/)
      expect(viaJson.info.permissions).toEqual(["probe:read"])

      const listed = await ibex(["token", "list", "--json", "--page-size", "50"], env)
      const page = json<{ tokens: Array<{ id: string; revoked_at: string | null; expires_at: string | null }> }>(listed)
      expect(page.tokens.map((t) => t.id)).toEqual(expect.arrayContaining([createdId, viaJson.info.id]))
      expect(page.tokens.find((t) => t.id === createdId)?.expires_at).not.toBeNull()
      for (const secret of [pat, viaJson.token, admin]) expect(listed.stdout).not.toContain(secret)
      expect(listed.stdout).not.toMatch(/ibex_pat_[0-9a-f-]{36}_/)
      expect(listed.stdout).not.toMatch(/\$argon2|secret|hash/i)

      const revoked = json<{ info: { id: string; revoked_at: string | null } }>(
        await ibex(["token", "revoke", createdId as string, "--json"], env)
      )
      expect(revoked.info).toMatchObject({ id: createdId, revoked_at: expect.any(String) })
      const human = await ibex(["token", "list"], env)
      expect(human.code, human.stderr).toBe(0)
      expect(human.stdout).toMatch(new RegExp(`${createdId}\\s+\\S+\\s+revoked`))
      expect(human.stdout).not.toMatch(/ibex_pat_[0-9a-f-]{36}_/)

      // The revoked PAT is refused as a bearer.
      expectRefused(await ibex(["token", "list"], { ...env, IBEX_TOKEN: pat }), 1, /refused your token/)
    }
  )

  it(
    "admin credential create → IBEX_ADMIN_TOKEN drives the PlatformAdminService; a PAT or a revoked credential is refused",
    { timeout: 180_000 },
    async () => {
      const minted = json<{ credential: string; id: string; name: string }>(
        await ibex(["admin", "credential", "create", "--name", "ci-automation", "--json"], dbEnv)
      )
      expect(minted.credential).toMatch(/^ibex_padm_[0-9a-f-]{36}_[A-Za-z0-9_-]{43}$/)
      const listed = await ibex(["admin", "credential", "list", "--json"], dbEnv)
      expect(json<{ credentials: Array<{ id: string }> }>(listed).credentials.map((c) => c.id)).toContain(minted.id)
      expect(listed.stdout).not.toContain(minted.credential)
      expect(listed.stdout).not.toMatch(/\$argon2/)

      const remote = {
        ...baseEnv(),
        AUTH_GRPC_INSECURE: "true",
        AUTH_GRPC_TARGET: env.AUTH_GRPC_TARGET,
        IBEX_ADMIN_TOKEN: minted.credential
      }
      const name = `remote-${randomBytes(4).toString("hex")}`
      const created = json<{ id: string; token: { pat: string; id: string }; agent: { id: string } }>(
        await ibex(["org", "create", "--name", name, "--agent", "bot", "--json"], remote)
      )
      const tokens = json<{ tokens: Array<{ id: string; org_id: string }> }>(
        await ibex(["token", "list", "--org", name, "--json"], remote)
      )
      expect(tokens.tokens).toEqual([expect.objectContaining({ id: created.token.id, org_id: created.id })])
      // The new org's admin token works as a PAT on the AuthService (its own org).
      const own = json<{ tokens: Array<{ id: string }> }>(
        await ibex(["token", "list", "--json"], { ...env, IBEX_TOKEN: created.token.pat })
      )
      expect(own.tokens.map((t) => t.id)).toEqual([created.token.id])
      const paused = json<{ status: string }>(
        await ibex(["agent", "pause", "--org", created.id, created.agent.id, "--json"], remote)
      )
      expect(paused.status).toBe("paused")

      // An org's PAT is not a platform-admin credential.
      expectRefused(
        await ibex(["org", "list"], { ...remote, IBEX_ADMIN_TOKEN: created.token.pat }),
        1,
        /refused the platform-admin credential/
      )
      // Rotation: revoke the old credential; it is refused from its next call.
      json(await ibex(["admin", "credential", "revoke", minted.id, "--json"], dbEnv))
      expectRefused(await ibex(["org", "list"], remote), 1, /refused the platform-admin credential/)
    }
  )

  it(
    "bad input: unknown permission, bad UUID, missing token, unreachable server (in-process)",
    { timeout: 60_000 },
    async () => {
      const { IBEX_TOKEN: _, ...noToken } = env
      const [unknownPermission, badUuid, missingToken, missingName, unreachable] = await Promise.all([
        inProcess(["token", "create", "--name", "x", "--permissions", "probe:read,root:everything"], env),
        inProcess(["token", "revoke", "12345"], env),
        inProcess(["token", "list"], noToken),
        inProcess(["token", "create", "--permissions", "probe:read"], env),
        inProcess(["token", "list", "--json"], { ...env, AUTH_GRPC_TARGET: "127.0.0.1:1" })
      ])
      expectRefused(unknownPermission, 2, /unknown permission "root:everything"/)
      expectRefused(badUuid, 2, /token-id must be a UUID/)
      expectRefused(missingToken, 2, /missing token: set IBEX_TOKEN/)
      expectRefused(missingName, 2, /--name/)
      expectRefused(unreachable, 1, /did not answer/)
      for (const run of [unknownPermission, badUuid, missingToken, missingName, unreachable])
        expect(`${run.stdout}${run.stderr}`).not.toContain(admin)
    }
  )
})

describe("onboarding and platform-admin credentials", () => {
  it("--help shows the onboarding path", { timeout: 60_000 }, async () => {
    const [top, org] = await Promise.all([inProcess(["--help"], dbEnv), inProcess(["org", "--help"], dbEnv)])
    expect(top.stdout).toMatch(/ibex org create --name acme --agent bot/)
    expect(org.stdout).toMatch(/ibex org disable acme/)
    expect(org.stdout).toMatch(/--expires-in/)
    expect(org.stdout).toMatch(/rate-limit/)
  })

  it("org create prints the first admin token once (human form), with its agent", { timeout: 120_000 }, async () => {
    const name = `human-${randomBytes(4).toString("hex")}`
    const run = await ibex(["org", "create", "--name", name, "--agent", "first", "--expires-in", "7d"], dbEnv)
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout.match(PAT) ?? []).toHaveLength(1)
    expect(run.stdout).toMatch(/shown once/)
    expect(run.stdout).toMatch(/agent {3}[0-9a-f-]{36} "first" \(active\)/)
    expect(run.stderr).not.toMatch(PAT)
    // Every platform action is audited (on stderr for the direct path) with the acting admin.
    const audits = run.stderr
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { audit: string; actor: string; operation: string })
    expect(audits.map((a) => a.operation)).toEqual(["CreateOrg", "CreateOrgToken", "CreateOrgAgent"])
    for (const a of audits) expect(a.actor).toMatch(/^database_owner:/)
  })
})

describe("where the token commands dial auth when AUTH_GRPC_TARGET is unset", () => {
  it("a running stack's recorded address; a stale record (its pid gone) is ignored for 127.0.0.1:9091", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "ibex-cli-stack-"))
    try {
      const record = (pid: number) =>
        writeStackEndpoint(dataDir, {
          pid,
          authGrpc: "127.0.0.1:1",
          databaseUrl: Redacted.make("postgres://postgres@/postgres?host=/nowhere"),
          adminCredential: Redacted.make("unused")
        })
      const run = () =>
        inProcess(["token", "list", "--json"], {
          ...baseEnv(),
          IBEX_DATA_DIR: dataDir,
          AUTH_GRPC_INSECURE: "true",
          IBEX_TOKEN: `ibex_pat_0190a0b0-0000-7000-8000-000000000001_${"A".repeat(43)}`
        })
      record(process.pid)
      expect((await run()).stderr).toContain("127.0.0.1:1 did not answer")
      // A pid that is no process: far above any pid_max.
      record(2 ** 30)
      expect((await run()).stderr).toContain("127.0.0.1:9091 did not answer")
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
