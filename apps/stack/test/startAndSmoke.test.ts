import { type ChildProcess, spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs"
import { type AddressInfo, createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as grpc from "@grpc/grpc-js"
import { AuthProto } from "@ibex/auth-adapter-grpc"
import { migrationsKey, readStackEndpoint, runMigrations } from "@ibex/persistence-pg"
import { describeRealInfra } from "@ibex/testkit/infra"
import { type ProvisionedDatabase, provisionDatabase } from "@ibex/testkit/provision"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runSmoke } from "../src/smoke.js"

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))

const startCwd = mkdtempSync(join(tmpdir(), "ibex-start-cwd-"))
afterAll(() => rmSync(startCwd, { recursive: true, force: true }))

interface Started {
  readonly child: ChildProcess
  readonly output: () => string
  readonly proxyUrl: string
  readonly token: string | null
  readonly agentId: string
  readonly orgId: string
}

/**
 * Starts the product with the command `npm start` runs (the compiled `dist/apps/stack/main.mjs`,
 * built once by `buildEntryPoints`; spawned directly so SIGTERM reaches it rather than npm), and
 * waits for its banner.
 */
const start = (env: Record<string, string | undefined>, args: ReadonlyArray<string> = []): Promise<Started> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, "dist/apps/stack/main.mjs"), ...args], {
      // Not the repository: a developer's .env there must not change what this test starts.
      cwd: startCwd,
      env: {
        ...process.env,
        DATABASE_URL: undefined,
        REDIS_URL: undefined,
        PROXY_PORT: "0",
        AUTH_GRPC_PORT: "0",
        AUTH_HTTP_PORT: "0",
        ...env
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    const timer = setTimeout(() => reject(new Error(`no banner within 90 s:\n${out}`)), 90_000)
    const onData = (chunk: Buffer) => {
      out += chunk.toString("utf8")
      const smoke = /PROXY_URL=(\S+) IBEX_TOKEN=(\S+) IBEX_AGENT_ID=(\S+) npm run smoke/.exec(out)
      const org = /^ {2}org {5}(\S+)$/m.exec(out)
      if (smoke && org) {
        clearTimeout(timer)
        resolve({
          child,
          output: () => out,
          proxyUrl: smoke[1]!,
          token: smoke[2] === '"$IBEX_TOKEN"' ? null : smoke[2]!,
          agentId: smoke[3]!,
          orgId: org[1]!
        })
      }
    }
    child.stdout?.on("data", onData)
    child.stderr?.on("data", onData)
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`npm start exited with ${code} before its banner:\n${out}`))
    })
  })

/** SIGTERM, then the exit code (graceful shutdown drains and exits on its own). */
const stop = (s: Started): Promise<number | null> =>
  new Promise((resolve) => {
    if (s.child.exitCode !== null) return resolve(s.child.exitCode)
    const killer = setTimeout(() => s.child.kill("SIGKILL"), 15_000)
    s.child.removeAllListeners("exit")
    s.child.once("exit", (code) => {
      clearTimeout(killer)
      resolve(code)
    })
    s.child.kill("SIGTERM")
  })

/** The banner's "Try it" curl and its smoke line, exactly as printed (indentation aside). */
const bannerCommands = (output: string) => {
  const lines = output.split("\n")
  const block = (title: string) => {
    const from = lines.indexOf(title) + 1
    const to = lines.indexOf("", from)
    expect(from, `banner has "${title}"`).toBeGreaterThan(0)
    return lines
      .slice(from, to)
      .map((l) => l.replace(/^ {2}/, ""))
      .join("\n")
  }
  return { curl: block("Try it:"), smoke: block("Smoke test:") }
}

/** One ValidateToken on the stack's auth port with the given channel credentials: the status code (0: answered). */
const validateOver = (
  address: string,
  creds: grpc.ChannelCredentials,
  token: string,
  options: grpc.ChannelOptions = {}
) =>
  new Promise<number>((resolve) => {
    const client = new AuthProto.AuthServiceClient(address, creds, options)
    client.validateToken({ token }, new grpc.Metadata(), { deadline: Date.now() + 5_000 }, (error) => {
      client.close()
      resolve(error === null ? 0 : error.code)
    })
  })

/**
 * Issue 14 item 1 on `npm start`: its development CA and certificates are 0600 files in a 0700
 * folder beside the data folder; ibex-stack.json names the CLI's; auth's port refuses plaintext,
 * and refuses ValidateToken to the CLI's certificate (the proxy's alone may call it).
 */
const expectDevTls = async (dataDir: string, token: string) => {
  const tlsDir = join(dataDir, "tls")
  expect(statSync(tlsDir).mode & 0o777).toBe(0o700)
  const files = readdirSync(tlsDir)
  expect(files.sort()).toEqual(
    ["auth-key.pem", "auth.pem", "ca-key.pem", "ca.pem", "cli-key.pem", "cli.pem", "proxy-key.pem", "proxy.pem"].sort()
  )
  for (const f of files) expect(statSync(join(tlsDir, f)).mode & 0o777, f).toBe(0o600)
  const endpoint = readStackEndpoint(join(dataDir, "pgdata"))
  expect(endpoint._tag).toBe("Some")
  if (endpoint._tag !== "Some") return
  const tls = endpoint.value.tls
  expect(tls).toEqual({
    caFile: join(tlsDir, "ca.pem"),
    certFile: join(tlsDir, "cli.pem"),
    keyFile: join(tlsDir, "cli-key.pem"),
    serverName: "localhost"
  })
  const address = endpoint.value.authGrpc
  expect(await validateOver(address, grpc.credentials.createInsecure(), token)).toBe(grpc.status.UNAVAILABLE)
  const cli = grpc.credentials.createSsl(
    readFileSync(join(tlsDir, "ca.pem")),
    readFileSync(join(tlsDir, "cli-key.pem")),
    readFileSync(join(tlsDir, "cli.pem"))
  )
  const localhost = { "grpc.ssl_target_name_override": "localhost" }
  expect(await validateOver(address, cli, token, localhost)).toBe(grpc.status.PERMISSION_DENIED)
  const proxy = grpc.credentials.createSsl(
    readFileSync(join(tlsDir, "ca.pem")),
    readFileSync(join(tlsDir, "proxy-key.pem")),
    readFileSync(join(tlsDir, "proxy.pem"))
  )
  expect(await validateOver(address, proxy, token, localhost)).toBe(0)
}

/** Runs a pasted command through bash, in the repository, with `env` added to this environment. */
const bash = (command: string, env: Record<string, string> = {}) =>
  new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn("bash", ["-c", command], {
      cwd: repoRoot,
      env: { ...process.env, IBEX_TOKEN: undefined, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    const collect = (c: Buffer) => {
      output += c.toString("utf8")
    }
    child.stdout.on("data", collect)
    child.stderr.on("data", collect)
    child.once("exit", (code) => resolve({ code, output }))
  })

const curlLike = async (s: Started) => {
  const res = await fetch(`${s.proxyUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${s.token}`, "x-ibex-agent-id": s.agentId, "content-type": "application/json" },
    body: JSON.stringify({ model: "ibex-mock", messages: [{ role: "user", content: "hello" }] })
  })
  return {
    status: res.status,
    headers: res.headers,
    body: (await res.json()) as {
      error?: Record<string, string>
      choices?: Array<{ message: { content: string } }>
      usage?: { total_tokens: number }
    }
  }
}

describe("npm start (embedded default) and npm run smoke", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "ibex-start-"))
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

  it("prints a curl that gets a forwarded completion, passes the smoke, keeps its data across a restart", async () => {
    const first = await start({ IBEX_DATA_DIR: join(dataDir, "pgdata") })
    let firstExit: number | null = null
    try {
      expect(first.token).toMatch(/^ibex_pat_[0-9a-f-]{36}_[A-Za-z0-9_-]{43}$/)
      // The first-start curl, pasted into a shell as printed: the token is in it.
      const pasted = await bash(bannerCommands(first.output()).curl)
      expect(pasted.output).toMatch(/^HTTP\/1\.1 200/m)
      expect(pasted.output).toContain('"content":"Mock reply to: hello"')
      expect(pasted.output).toMatch(/^X-IBEX-Provider: mock/m)
      const answer = await curlLike(first)
      expect(answer.status).toBe(200)
      expect(answer.body.choices?.[0]?.message.content).toBe("Mock reply to: hello")
      expect(answer.body.usage?.total_tokens).toBeGreaterThan(0)
      expect(answer.headers.get("x-ibex-model")).toBe("ibex-mock")
      expect(answer.headers.get("content-type")).toMatch(/^application\/json/)
      expect(answer.headers.get("x-trace-id")).toBeTruthy()
      expect(answer.headers.get("x-response-time")).toBeTruthy()
      expect(answer.headers.get("x-ratelimit-limit")).toBe("60")
      const lines: Array<string> = []
      const smoke = await runSmoke({
        proxyUrl: first.proxyUrl,
        token: first.token ?? "",
        agentId: first.agentId,
        log: (l) => lines.push(l)
      })
      expect(smoke.failed, lines.join("\n")).toEqual([])
      expect(smoke.passed).toBeGreaterThanOrEqual(10)
      await expectDevTls(dataDir, first.token ?? "")
    } finally {
      firstExit = await stop(first)
    }
    expect(firstExit, "graceful shutdown exits 0 on SIGTERM").toBe(0)
    // The PAT never reaches a log line, even the product's own.
    const logLines = first
      .output()
      .split("\n")
      .filter((l) => l.startsWith("{"))
    expect(logLines.length).toBeGreaterThan(0)
    for (const l of logLines) expect(l.includes(first.token ?? "never")).toBe(false)
    // An orderly stop says so as its last line, not silence that reads like a crash.
    expect(JSON.parse(logLines.at(-1) ?? "{}")).toMatchObject({
      level: "INFO",
      event: "stack_stopped",
      reason: "signal"
    })

    const caBefore = readFileSync(join(dataDir, "tls", "ca.pem"), "utf8")
    const second = await start({ IBEX_DATA_DIR: join(dataDir, "pgdata") })
    try {
      // The development certificates are kept across starts.
      expect(readFileSync(join(dataDir, "tls", "ca.pem"), "utf8")).toBe(caBefore)
      expect(second.output()).not.toContain("dev_tls_issued")
      expect(first.output()).toContain("dev_tls_issued")
      expect(second.orgId).toBe(first.orgId)
      expect(second.agentId).toBe(first.agentId)
      expect(second.token, "the PAT is shown on the first start only").toBeNull()
      const stillValid = await curlLike({ ...second, token: first.token })
      expect(stillValid.status).toBe(200)
      // The restart form reads $IBEX_TOKEN: pasted as printed with it exported, both commands work.
      const commands = bannerCommands(second.output())
      expect(commands.curl).toContain('"Authorization: Bearer $IBEX_TOKEN"')
      const pasted = await bash(commands.curl, { IBEX_TOKEN: first.token ?? "" })
      expect(pasted.output).toMatch(/^HTTP\/1\.1 200/m)
      expect(pasted.output).toContain('"content":"Mock reply to: hello"')
      const smoke = await bash(commands.smoke, { IBEX_TOKEN: first.token ?? "" })
      expect(smoke.code, smoke.output).toBe(0)
    } finally {
      await stop(second)
    }
  }, 240_000)
})

describe("npm start under a burst of cold lookups (embedded PGlite)", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "ibex-burst-"))
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

  it("40 unknown tokens at once are each refused with 401, never 503, the real token works, and SIGTERM still exits", async () => {
    const s = await start({ IBEX_DATA_DIR: join(dataDir, "pgdata") })
    let exit: number | null = null
    try {
      expect((await curlLike(s)).status).toBe(200)
      // Distinct token ids, so each one is a database lookup of its own (no cache can answer it).
      const unknown = Array.from({ length: 40 }, () =>
        fetch(`${s.proxyUrl}/v1/chat/completions`, {
          method: "POST",
          headers: {
            authorization: `Bearer ibex_pat_${randomUUID()}_${"A".repeat(43)}`,
            "x-ibex-agent-id": s.agentId,
            "content-type": "application/json"
          },
          body: JSON.stringify({ model: "ibex-mock", messages: [{ role: "user", content: "hello" }] })
        }).then(async (r) => {
          await r.arrayBuffer()
          return r.status
        })
      )
      const [statuses, real] = await Promise.all([Promise.all(unknown), curlLike(s)])
      expect(statuses).toEqual(statuses.map(() => 401))
      expect(real.status).toBe(200)
    } finally {
      exit = await stop(s)
    }
    // Before the embedded pool had one connection, two of the lookups never answered (503 at the
    // proxy) and the process waited on them forever after SIGTERM (killed by `stop` at 15 s).
    expect(exit, "graceful shutdown exits 0 on SIGTERM").toBe(0)
  }, 120_000)
})

describe("a first start that cannot bind its proxy port", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "ibex-busy-"))
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

  it("mints no PAT, so the next start shows the first one", async () => {
    const busy = createServer()
    await new Promise<void>((ok) => busy.listen(0, "127.0.0.1", ok))
    const port = (busy.address() as AddressInfo).port
    try {
      const failed = await start({ IBEX_DATA_DIR: join(dataDir, "pgdata"), PROXY_PORT: String(port) }).then(
        (s) => stop(s).then(() => "started"),
        (e: Error) => e.message
      )
      expect(failed).toMatch(/exited with 1 before its banner/)
      expect(failed).toContain("EADDRINUSE")
    } finally {
      await new Promise((ok) => busy.close(ok))
    }
    const next = await start({ IBEX_DATA_DIR: join(dataDir, "pgdata") })
    try {
      expect(next.token, "the PAT of the first successful start is shown").toMatch(/^ibex_pat_/)
      expect((await curlLike(next)).status).toBe(200)
    } finally {
      await stop(next)
    }
  }, 240_000)
})

const realServices = process.env.DATABASE_URL !== undefined && process.env.REDIS_URL !== undefined

const onRealServices = describeRealInfra(realServices, "needs DATABASE_URL (Postgres) and REDIS_URL (Redis)")

onRealServices("npm start with DATABASE_URL and REDIS_URL", () => {
  let db: ProvisionedDatabase
  const dataDir = mkdtempSync(join(tmpdir(), "ibex-start-real-"))
  beforeAll(async () => {
    db = await provisionDatabase({ migrations: { key: migrationsKey(), migrate: (url) => runMigrations(url) } })
  }, 60_000)
  afterAll(async () => {
    await db?.drop()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it("uses them, and the smoke passes", async () => {
    const s = await start({
      DATABASE_URL: db.url,
      REDIS_URL: process.env.REDIS_URL,
      IBEX_DATA_DIR: join(dataDir, "pgdata")
    })
    try {
      expect(s.output()).toContain("Postgres (DATABASE_URL), Redis (REDIS_URL)")
      const lines: Array<string> = []
      const smoke = await runSmoke({
        proxyUrl: s.proxyUrl,
        token: s.token ?? "",
        agentId: s.agentId,
        log: (l) => lines.push(l)
      })
      expect(smoke.failed, lines.join("\n")).toEqual([])
    } finally {
      expect(await stop(s)).toBe(0)
    }
  }, 180_000)
})
