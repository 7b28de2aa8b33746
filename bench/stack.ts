// What the benchmark starts and tears down: its own database (created, migrated, seeded with the
// real Argon2id hasher, dropped), and child processes (bare node:http, auth instances, proxies, the
// mock provider, the bare forwarder), each on a free loopback port, each killed on exit, including
// on failure.
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { makeSecretHasherArgon2 } from "@ibex/auth-adapter-grpc"
import { issueToken } from "@ibex/auth-core"
import { type AgentId, type OrgId, Permissions, SecretHasher, SecureRandomWebCrypto, type TokenId } from "@ibex/domain"
import { appUrlFromOwnerUrl, PgClientLive, runMigrations, StoresLive } from "@ibex/persistence-pg"
import { bootstrapAdminToken, createAgent, createOrg } from "@ibex/testkit"
import { withClient } from "@ibex/testkit/provision"
import { Effect, Layer, Redacted } from "effect"

export const repoRoot = fileURLToPath(new URL("..", import.meta.url))
export const logDir = mkdtempSync(join(tmpdir(), "ibex-bench-"))

// ---------------------------------------------------------------------------------------------
// Cleanup: every resource registers its undo; `cleanup` runs them newest first, once.

const undo: Array<() => Promise<void>> = []
let cleaned = false
export const onCleanup = (f: () => Promise<void>) => undo.push(f)
export const cleanup = async () => {
  if (cleaned) return
  cleaned = true
  for (const f of undo.reverse()) await f().catch((e) => console.error(`bench cleanup: ${String(e)}`))
}

// ---------------------------------------------------------------------------------------------
// Database

const withDatabase = (url: string, database: string) => {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

export interface BenchDatabase {
  readonly name: string
  readonly ownerUrl: string
  readonly appUrl: string
}

export const createDatabase = async (adminUrl: string): Promise<BenchDatabase> => {
  const name = `ibex_bench_${randomBytes(5).toString("hex")}`
  await withClient(adminUrl, (c) => c.query(`CREATE DATABASE "${name}"`))
  onCleanup(async () => {
    await withClient(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`))
  })
  const ownerUrl = withDatabase(adminUrl, name)
  await runMigrations(ownerUrl)
  return { name, ownerUrl, appUrl: appUrlFromOwnerUrl(ownerUrl) }
}

export interface SeededToken {
  readonly token: string
  readonly tokenId: TokenId
}
export interface SeededOrg {
  readonly orgId: OrgId
  readonly agentId: AgentId
  readonly admin: SeededToken
  readonly extra: ReadonlyArray<SeededToken>
}

/** An org with an active agent, its full-permission admin token and `extra` more full tokens (Argon2id each). */
const seedOrg = (rateLimitPerMinute: number, extra: number) =>
  Effect.gen(function* () {
    const org = yield* createOrg({ rateLimitPerMinute })
    const agent = yield* createAgent(org.id, "active", "bench-agent")
    const toSeeded = (t: { token: Redacted.Redacted<string>; info: { id: TokenId } }): SeededToken => ({
      token: Redacted.value(t.token),
      tokenId: t.info.id
    })
    const admin = toSeeded(yield* bootstrapAdminToken(org.id, "bench-admin"))
    const tokens = yield* Effect.forEach(
      Array.from({ length: extra }, (_, i) => i),
      (i) =>
        Effect.map(
          issueToken({
            orgId: org.id,
            name: `bench-${i}`,
            permissions: Permissions.all,
            expiresAt: null,
            createdBy: null
          }),
          toSeeded
        ),
      { concurrency: 2 }
    )
    return { orgId: org.id, agentId: agent.id, admin, extra: tokens } satisfies SeededOrg
  })

export const seed = (db: BenchDatabase, plan: ReadonlyArray<{ rateLimitPerMinute: number; extra: number }>) =>
  Effect.runPromise(
    Effect.forEach(plan, (p) => seedOrg(p.rateLimitPerMinute, p.extra)).pipe(
      Effect.provide(
        StoresLive.pipe(
          Layer.provideMerge(
            PgClientLive({
              url: Redacted.make(db.appUrl),
              appRole: null,
              maxConnections: 4,
              applicationName: "ibex-bench"
            })
          ),
          Layer.merge(Layer.mergeAll(Layer.succeed(SecretHasher, makeSecretHasherArgon2()), SecureRandomWebCrypto))
        )
      ),
      Effect.scoped
    )
  )

// ---------------------------------------------------------------------------------------------
// Processes

export { freePort } from "@ibex/testkit/faults"

export interface Child {
  readonly name: string
  readonly proc: ChildProcess
  readonly pid: number
  readonly logFile: string
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  readonly stop: (graceMs?: number) => Promise<void>
  readonly exited: () => boolean
}

/** Spawns `node <args>` from the repo root, output to a log file; registered for cleanup. */
export const startNode = (name: string, args: ReadonlyArray<string>, env: Record<string, string> = {}): Child => {
  const logFile = join(logDir, `${name}.log`)
  const fd = openSync(logFile, "a")
  const proc = spawn(process.execPath, [...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", fd, fd]
  })
  closeSync(fd)
  let exited = false
  const done = new Promise<void>((resolve) => proc.once("exit", () => resolve()))
  proc.once("exit", () => {
    exited = true
  })
  const stop = async (graceMs = 5_000) => {
    if (exited) return
    proc.kill("SIGTERM")
    const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs)
    await done
    clearTimeout(timer)
  }
  onCleanup(() => stop())
  return { name, proc, pid: proc.pid ?? -1, logFile, stop, exited: () => exited }
}

export const tail = (child: Child, lines = 20): string => {
  try {
    return readFileSync(child.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n")
  } catch {
    return ""
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Polls `url` (GET, or `init`) until it answers 200, the child dies, or `timeoutMs` passes. */
export const waitHttp200 = async (
  child: Child,
  url: string,
  timeoutMs = 60_000,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {}
) => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exited()) throw new Error(`${child.name} exited during startup:\n${tail(child)}`)
    const ok = await fetch(url, { ...init, signal: AbortSignal.timeout(1_000) }).then(
      (r) => r.status === 200,
      () => false
    )
    if (ok) return
    await sleep(200)
  }
  throw new Error(`${child.name} not ready at ${url} after ${timeoutMs} ms:\n${tail(child)}`)
}

/** Open file descriptors of a process (Linux /proc; NaN when unreadable). */
export const openFds = (pid: number): number => {
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return Number.NaN
  }
}

/** Resident set size of a process in bytes (Linux /proc). */
export const rssBytes = (pid: number): number => {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
  return m ? Number(m[1]) * 1024 : Number.NaN
}

/** Runs a bench child (load generator or worker) to completion and parses its last stdout line as JSON. */
export const runJson = <A>(name: string, args: ReadonlyArray<string>, timeoutMs: number): Promise<A> =>
  new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...args], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    let err = ""
    proc.stdout.on("data", (d) => {
      out += d
    })
    proc.stderr.on("data", (d) => {
      err += d
    })
    const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs)
    onCleanup(async () => {
      if (proc.exitCode === null) proc.kill("SIGKILL")
    })
    proc.once("exit", (code) => {
      clearTimeout(timer)
      const last = out.trim().split("\n").pop() ?? ""
      if (code !== 0) return reject(new Error(`${name} exited ${code}: ${err.slice(-2000)}`))
      try {
        resolve(JSON.parse(last) as A)
      } catch {
        reject(new Error(`${name}: no JSON result (stdout: ${out.slice(-500)}, stderr: ${err.slice(-1000)})`))
      }
    })
  })
