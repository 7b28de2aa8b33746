import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

/**
 * Issue 15 end to end through `npm start`'s entry point on the embedded database: the first start
 * prints the console URL and the platform admin's credentials once; signed in through the admin
 * API, a token revoked there is refused at the proxy (401) within the revocation SLA, and a paused
 * agent is refused (403); a restart prints the console URL and no credentials.
 */
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))
const SLA_MS = 300

interface Running {
  readonly child: ChildProcess
  readonly out: string
}

const start = (dataDir: string): Promise<Running> =>
  new Promise((resolve, reject) => {
    const child = spawn(join(repoRoot, "node_modules/.bin/tsx"), ["apps/stack/src/main.ts"], {
      cwd: repoRoot,
      env: {
        ...process.env,
        DATABASE_URL: undefined,
        DATABASE_APP_URL: undefined,
        REDIS_URL: undefined,
        IBEX_DATA_DIR: dataDir,
        PROXY_PORT: "0",
        AUTH_GRPC_PORT: "0",
        AUTH_HTTP_PORT: "0"
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    const timer = setTimeout(() => reject(new Error(`no banner within 90 s:\n${out}`)), 90_000)
    const onData = (chunk: Buffer) => {
      out += chunk.toString("utf8")
      if (/npm run smoke/.test(out)) {
        clearTimeout(timer)
        resolve({ child, out })
      }
    }
    child.stdout?.on("data", onData)
    child.stderr?.on("data", onData)
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`the stack exited with ${code} before its banner:\n${out}`))
    })
  })

const stop = (r: Running): Promise<void> =>
  new Promise((resolve) => {
    if (r.child.exitCode !== null) return resolve()
    const killer = setTimeout(() => r.child.kill("SIGKILL"), 15_000)
    r.child.removeAllListeners("exit")
    r.child.once("exit", () => {
      clearTimeout(killer)
      resolve()
    })
    r.child.kill("SIGTERM")
  })

const field = (out: string, re: RegExp) => {
  const m = re.exec(out)
  if (m === null) throw new Error(`banner lacks ${re}:\n${out}`)
  return m[1] as string
}

describe("the admin API through npm start (embedded)", { timeout: 120_000 }, () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), "ibex-iam-")), "pgdata")
  let first: Running
  let proxy: string
  let console_: string
  let api: string
  let cookies = ""
  let csrf = ""

  const call = async (method: string, path: string, body?: unknown, org?: string) => {
    const res = await fetch(`${api}${path}`, {
      method,
      headers: {
        cookie: cookies,
        "x-csrf-token": csrf,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(org === undefined ? {} : { "x-ibex-org-id": org })
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    const text = await res.text()
    return { status: res.status, json: text === "" ? null : JSON.parse(text), res }
  }
  const probe = async (token: string, agent: string) =>
    (
      await fetch(`${proxy}/v1/internal/auth-probe`, {
        headers: { authorization: `Bearer ${token}`, "x-ibex-agent-id": agent }
      })
    ).status

  beforeAll(async () => {
    first = await start(dataDir)
    proxy = field(first.out, /^ {2}proxy {3}(\S+)$/m)
    console_ = field(first.out, /^ {2}console (\S+)$/m)
    api = console_.replace(/\/console\/$/, "")
  }, 120_000)
  afterAll(async () => {
    if (first !== undefined) await stop(first)
    rmSync(join(dataDir, ".."), { recursive: true, force: true })
  })

  it("the first start prints the console URL and the platform admin's credentials, which sign in", async () => {
    expect(console_).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/console\/$/)
    const email = field(first.out, /^ {2}sign in (\S+) \/ \S+$/m)
    const password = field(first.out, /^ {2}sign in \S+ \/ (\S+)$/m)
    const res = await fetch(`${api}/v1/auth/signin`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password })
    })
    expect(res.status).toBe(200)
    const set = res.headers.getSetCookie()
    cookies = set.map((c) => c.split(";")[0]).join("; ")
    csrf = decodeURIComponent(
      set
        .find((c) => c.startsWith("ibex_csrf="))
        ?.split(";")[0]
        ?.slice("ibex_csrf=".length) ?? ""
    )
    const me = await call("GET", "/v1/auth/me")
    expect(me.json.operator.platform_admin).toBe(true)
    // The password appears in the banner only: not in any log line.
    expect(first.out.split("\n").filter((l) => l.startsWith("{") && l.includes(password))).toEqual([])
  })

  it("a token revoked through the admin API is refused at the proxy (401) within the SLA; a paused agent answers 403", async () => {
    const orgs = await call("GET", "/v1/admin/orgs")
    const org = orgs.json.orgs[0].id as string
    const agent = (await call("POST", "/v1/admin/agents", { name: "e2e" }, org)).json.agent.id as string
    const created = await call("POST", "/v1/admin/tokens", { name: "e2e", permissions: ["probe:read"] }, org)
    expect(created.status).toBe(201)
    const token = created.json.token as string
    expect(await probe(token, agent)).toBe(200)
    const revoked = await call("POST", `/v1/admin/tokens/${created.json.info.id}/revoke`, undefined, org)
    expect(revoked.status).toBe(200)
    const t0 = Date.now()
    let status = await probe(token, agent)
    while (status !== 401 && Date.now() - t0 < 2_000) status = await probe(token, agent)
    expect(status).toBe(401)
    expect(Date.now() - t0).toBeLessThan(SLA_MS)

    const other = (await call("POST", "/v1/admin/tokens", { name: "e2e-2", permissions: ["probe:read"] }, org)).json
      .token as string
    expect(await probe(other, agent)).toBe(200)
    expect((await call("POST", `/v1/admin/agents/${agent}/pause`, undefined, org)).status).toBe(200)
    const t1 = Date.now()
    let paused = await probe(other, agent)
    while (paused !== 403 && Date.now() - t1 < 2_000) paused = await probe(other, agent)
    expect(paused).toBe(403)
    expect(Date.now() - t1).toBeLessThan(SLA_MS)
    expect((await call("POST", `/v1/admin/agents/${agent}/activate`, undefined, org)).status).toBe(200)
  })

  it("a restart prints the console URL and no credentials", async () => {
    await stop(first)
    const again = await start(dataDir)
    try {
      expect(again.out).toMatch(/^ {2}console http:\/\/127\.0\.0\.1:\d+\/console\/$/m)
      expect(again.out).not.toMatch(/^ {2}sign in /m)
    } finally {
      await stop(again)
    }
  })
})
