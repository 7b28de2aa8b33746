import { spawnSync } from "node:child_process"
import { chmodSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { SqlClient } from "@effect/sql"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Org, type OrgId, OrgStore } from "@ibex/domain"
import { Effect, Layer, Option, Redacted } from "effect"
import { EMBEDDED_SOCKET_NAME, socketUrl, startEmbedded } from "../src/embedded.js"
import { loadMigrations } from "../src/migrate.js"
import { OrgStoreLive } from "../src/OrgStoreLive.js"
import { PgClientLive, withOrg } from "../src/PgClientLive.js"
import { RevocationHubLive } from "../src/RevocationHub.js"

describe("embedded PGlite", () => {
  const dir = mkdtempSync(join(tmpdir(), "ibex-embedded-"))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const orgId = crypto.randomUUID() as OrgId

  it.live(
    "starts on its socket, migrates, and runs the app's transactions as ibex_app",
    () =>
      Effect.gen(function* () {
        const db = yield* startEmbedded({ dataDir: dir })
        expect(db.migrations?.applied).toHaveLength(loadMigrations().length)
        expect(db.app.appRole).toBe("ibex_app")
        expect(Redacted.value(db.ownerUrl)).toBe(socketUrl(dir))
        const program = Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          const [row] = yield* withOrg(
            orgId,
            sql<{ u: string; o: string }>`
            SELECT current_user AS u, current_setting('app.current_org_id') AS o`
          )
          expect(row).toEqual({ u: "ibex_app", o: orgId })
          const orgs = yield* OrgStore
          yield* orgs.insert(
            new Org({ id: orgId, name: "embedded", status: "active", rateLimitPerMinute: 10, createdAt: new Date() })
          )
        })
        yield* program.pipe(
          Effect.provide(OrgStoreLive.pipe(Layer.provide(RevocationHubLive), Layer.provideMerge(PgClientLive(db.app))))
        )
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "keeps its data in the folder across restarts; migrations are not applied twice",
    () =>
      Effect.gen(function* () {
        const db = yield* startEmbedded({ dataDir: dir })
        expect(db.migrations?.applied).toEqual([])
        const found = yield* Effect.flatMap(OrgStore, (orgs) => orgs.find(orgId)).pipe(
          Effect.provide(OrgStoreLive.pipe(Layer.provide(RevocationHubLive), Layer.provide(PgClientLive(db.app))))
        )
        expect(Option.map(found, (o) => o.rateLimitPerMinute)).toEqual(Option.some(10))
      }).pipe(Effect.scoped),
    60_000
  )
})

/** Every entry under `dir` with its permission bits and kind. */
const modesUnder = (dir: string): Array<{ path: string; mode: number; kind: "dir" | "file" | "socket" | "other" }> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    const stat = lstatSync(path)
    const kind = stat.isDirectory() ? "dir" : stat.isFile() ? "file" : stat.isSocket() ? "socket" : "other"
    const entry = { path, mode: stat.mode & 0o777, kind } as const
    return kind === "dir" ? [entry, ...modesUnder(path)] : [entry]
  })

/** TCP sockets this process listens on (Linux /proc): listening entries whose inode is one of our fds. */
const tcpListeners = (): Set<string> => {
  const inodes = new Set<string>()
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))
      if (m?.[1]) inodes.add(m[1])
    } catch {
      // closed meanwhile
    }
  }
  const listening = new Set<string>()
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = ""
    try {
      text = readFileSync(table, "utf8")
    } catch {
      continue
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/)
      // local_address, st (0A = LISTEN), inode
      if (f[3] === "0A" && f[9] !== undefined && inodes.has(f[9])) listening.add(`${f[1]}`)
    }
  }
  return listening
}

/** Tries, as the unprivileged user `nobody`, to list `dir` and to connect to `socket`; what each met. */
const asNobody = (dir: string, socket: string): { list: string; connect: string } => {
  const script = `
    const fs = require("node:fs"), net = require("node:net")
    let list = "ok"; try { fs.readdirSync(${JSON.stringify(dir)}) } catch (e) { list = e.code }
    const c = net.connect(${JSON.stringify(socket)})
    c.once("connect", () => { console.log(JSON.stringify({ list, connect: "ok" })); c.destroy() })
    c.once("error", (e) => console.log(JSON.stringify({ list, connect: e.code })))`
  const run = spawnSync(process.execPath, ["-e", script], {
    uid: 65534,
    gid: 65534,
    cwd: "/",
    encoding: "utf8",
    timeout: 10_000
  })
  return JSON.parse(run.stdout.trim() || "{}")
}

describe("embedded PGlite: only its owner can reach it (issue 14, item 4)", () => {
  // The parent is opened up on purpose (0755), so that only the data folder's own mode protects it.
  const parent = mkdtempSync(join(tmpdir(), "ibex-embedded-private-"))
  chmodSync(parent, 0o755)
  const dataDir = join(parent, "pgdata")
  afterAll(() => rmSync(parent, { recursive: true, force: true }))

  it.live(
    "served on a 0600 Unix socket in a 0700 data folder whose files are 0600; no TCP port; other users are refused",
    () =>
      Effect.gen(function* () {
        const before = tcpListeners()
        // As `npm start` opens it: the data folder does not exist yet.
        const db = yield* startEmbedded({ dataDir })
        const socket = join(dataDir, EMBEDDED_SOCKET_NAME)
        // No TCP listener appeared in this process.
        expect([...tcpListeners()].filter((l) => !before.has(l))).toEqual([])
        expect(Redacted.value(db.ownerUrl)).toBe(socketUrl(dataDir))
        expect(Redacted.value(db.app.url)).toBe(socketUrl(dataDir))
        expect(lstatSync(dataDir).mode & 0o777).toBe(0o700)
        const entries = modesUnder(dataDir)
        expect(entries.length).toBeGreaterThan(100)
        const wrong = entries.filter((e) =>
          e.kind === "dir" ? e.mode !== 0o700 : e.kind === "file" || e.kind === "socket" ? e.mode !== 0o600 : false
        )
        expect(wrong.map((e) => `${e.path.slice(dataDir.length)} ${e.mode.toString(8)}`)).toEqual([])
        expect(entries.find((e) => e.path === socket)).toMatchObject({ kind: "socket", mode: 0o600 })
        // Another local user can neither look into the folder nor connect to the socket.
        if (process.getuid?.() === 0) {
          const other = asNobody(dataDir, socket)
          expect(other).toEqual({ list: "EACCES", connect: "EACCES" })
        } else console.log("not root: the other-user check needs root to switch user; modes asserted above")
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "after a stop the files are still the owner's only, and a stale socket does not block the next start",
    () =>
      Effect.gen(function* () {
        for (const e of modesUnder(dataDir)) expect(e.mode, e.path).toBe(e.kind === "dir" ? 0o700 : 0o600)
        // A process that served the folder and was killed leaves its socket file behind.
        const socket = join(dataDir, EMBEDDED_SOCKET_NAME)
        spawnSync(process.execPath, [
          "-e",
          `require("node:net").createServer().listen(${JSON.stringify(socket)}, () => process.kill(process.pid, "SIGKILL"))`
        ])
        expect(lstatSync(socket).isSocket()).toBe(true)
        const db = yield* startEmbedded({ dataDir })
        expect(db.migrations?.applied).toEqual([])
      }).pipe(Effect.scoped),
    60_000
  )
})
