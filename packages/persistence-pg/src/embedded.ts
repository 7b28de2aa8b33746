import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs"
import { connect } from "node:net"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import { Context, Data, Effect, Layer, Redacted } from "effect"
import { type MigrationReport, runMigrations } from "./migrate.js"
import { APP_ROLE, type PgConnectionConfig } from "./PgClientLive.js"

/**
 * The embedded default: with no DATABASE_URL the product runs PGlite (Postgres compiled to
 * WebAssembly) in-process, keeps its data in a local folder, and serves it with pglite-socket so
 * that the normal driver (`pg` under `@effect/sql-pg`) talks to it like to any Postgres. Same
 * migrations, same row-level security.
 *
 * Only the owner of the data folder may reach it (issue 14, item 4): every connection to PGlite is
 * the superuser and pglite-socket checks no password, so it is served on a Unix socket inside the
 * data folder (`.s.PGSQL.5432`, mode 0600; the URL is `postgres://postgres@/postgres?host=<folder>`),
 * never on a TCP port; the folder is 0700 and its files 0600 (subfolders 0700). PGlite writes its
 * files 0666 whatever the umask, so the modes are set again after start and at stop; while it runs,
 * the 0700 folder is what keeps other users out of files it creates meanwhile.
 *
 * Two differences from a Postgres server, both handled here:
 *  - every connection is the superuser `postgres`, whatever user it logs in as, so the app
 *    connection assumes `ibex_app` per transaction (`appRole`, SET LOCAL ROLE) and row-level
 *    security applies exactly as on Postgres;
 *  - it runs one transaction at a time and does not deliver NOTIFY across connections: keep
 *    the pool small; revocations reach this process's own caches in-process (RevocationHub).
 * One process at a time may open a data folder.
 */

/** The socket's name in its folder: what `pg` (and libpq) dial for `host=<folder>` on port 5432. */
export const EMBEDDED_SOCKET_NAME = ".s.PGSQL.5432"
/** sun_path holds 108 bytes with its NUL; a longer path falls back to a private folder in the OS temp directory. */
const MAX_SOCKET_PATH = 107

/** The owner's URL for a socket folder: `pg` connects to `<folder>/.s.PGSQL.5432`. */
export const socketUrl = (folder: string): string => `postgres://postgres@/postgres?host=${encodeURIComponent(folder)}`

/** Folders 0700, files 0600, everything under `dir` (symbolic links are left alone). */
export const restrictTree = (dir: string): void => {
  chmodSync(dir, 0o700)
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    const stat = lstatSync(path)
    if (stat.isSymbolicLink()) continue
    if (stat.isDirectory()) restrictTree(path)
    else chmodSync(path, 0o600)
  }
}

/** Runs `f` with the process umask at 0077 (files it creates are the owner's only); a no-op where umask cannot be set (worker threads). */
const withPrivateUmask = async <A>(f: () => Promise<A>): Promise<A> => {
  let previous: number | undefined
  try {
    previous = process.umask(0o077)
  } catch {
    previous = undefined
  }
  try {
    return await f()
  } finally {
    if (previous !== undefined) process.umask(previous)
  }
}

/** A socket file left by a process that died: removed. One that answers belongs to a running server: refused. */
const clearStaleSocket = async (path: string): Promise<void> => {
  try {
    if (!lstatSync(path).isSocket()) throw new Error(`${path} exists and is not a socket`)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return
    throw error
  }
  const answers = await new Promise<boolean>((done) => {
    const probe = connect(path)
    probe.once("connect", () => {
      probe.destroy()
      done(true)
    })
    probe.once("error", () => done(false))
  })
  if (answers) throw new Error(`another process serves this data folder (${path} answers)`)
  rmSync(path, { force: true })
}

export const defaultDataDir = (): string =>
  process.env.IBEX_DATA_DIR ?? fileURLToPath(new URL("../../../.ibex/pgdata", import.meta.url))

export interface EmbeddedOptions {
  /** Folder for the data; default IBEX_DATA_DIR or `.ibex/pgdata` at the repo root. "memory" keeps nothing. */
  readonly dataDir?: string | undefined
  /** Socket connections the server accepts (the pool, the revocation listener, migrations). Default 16. */
  readonly maxConnections?: number | undefined
  /** Run the migrations after start. Default true. */
  readonly migrate?: boolean | undefined
  /** A migrated data folder tarball (PGlite dumpDataDir) to start from instead of an empty one (tests). */
  readonly loadDataDir?: Blob | undefined
  readonly log?: ((line: string) => void) | undefined
}

export interface EmbeddedPostgresShape {
  /** The superuser's URL (migrations, admin): the Unix socket in the data folder (`?host=<folder>`). */
  readonly ownerUrl: Redacted.Redacted<string>
  /** How the services connect: same server, role assumed per transaction, small pool. */
  readonly app: PgConnectionConfig
  readonly migrations: MigrationReport | null
  readonly dataDir: string | null
  readonly pglite: PGlite
}

export class EmbeddedPostgres extends Context.Tag("@ibex/persistence-pg/EmbeddedPostgres")<
  EmbeddedPostgres,
  EmbeddedPostgresShape
>() {}

export class EmbeddedStartFailed extends Data.TaggedError("EmbeddedStartFailed")<{ readonly message: string }> {}

/**
 * Starts PGlite on a Unix socket only its owner can reach (and migrates it); stops the server,
 * closes the database and restricts the files again when the scope closes.
 */
export const startEmbedded = (options: EmbeddedOptions = {}) =>
  Effect.gen(function* () {
    const dataDir = options.dataDir === "memory" ? null : resolve(options.dataDir ?? defaultDataDir())
    const started = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          if (dataDir !== null) {
            mkdirSync(dataDir, { recursive: true, mode: 0o700 })
            chmodSync(dataDir, 0o700)
          }
          // The socket lives in the data folder; a memory database (or a folder whose path is too
          // long for a socket) gets a private folder of its own (mkdtemp: 0700), removed at stop.
          const inDataDir = dataDir !== null && join(dataDir, EMBEDDED_SOCKET_NAME).length <= MAX_SOCKET_PATH
          const socketDir = inDataDir ? dataDir : mkdtempSync(join(tmpdir(), "ibex-pglite-"))
          const socketPath = join(socketDir, EMBEDDED_SOCKET_NAME)
          const ownSocketDir = socketDir === dataDir ? null : socketDir
          try {
            await clearStaleSocket(socketPath)
            const pglite = await PGlite.create(
              dataDir ?? undefined,
              options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}
            )
            const server = new PGLiteSocketServer({
              db: pglite,
              path: socketPath,
              maxConnections: options.maxConnections ?? 16
            })
            try {
              // Created 0600 (umask 0077), and set so again: only the owner may connect.
              await withPrivateUmask(() => server.start())
              chmodSync(socketPath, 0o600)
            } catch (error) {
              await server.stop().catch(() => undefined)
              await pglite.close().catch(() => undefined)
              throw error
            }
            return { pglite, server, socketDir, ownSocketDir }
          } catch (error) {
            if (ownSocketDir !== null) rmSync(ownSocketDir, { recursive: true, force: true })
            throw error
          }
        },
        catch: (error) =>
          new EmbeddedStartFailed({
            message: `embedded Postgres did not start${dataDir ? ` (data folder ${dataDir}, used by another process?)` : ""}: ${
              error instanceof Error ? error.message : String(error)
            }`
          })
      }),
      ({ pglite, server, ownSocketDir }) =>
        Effect.promise(async () => {
          await server.stop().catch(() => undefined)
          await pglite.close().catch(() => undefined)
          if (ownSocketDir !== null) rmSync(ownSocketDir, { recursive: true, force: true })
          if (dataDir !== null) {
            rmSync(join(dataDir, EMBEDDED_SOCKET_NAME), { force: true })
            try {
              restrictTree(dataDir)
            } catch {
              // best effort at stop: the folder stays 0700 whatever a file's mode
            }
          }
        })
    )
    const url = socketUrl(started.socketDir)
    const migrations =
      options.migrate === false
        ? null
        : yield* Effect.tryPromise({
            try: () => runMigrations(url, options.log ? { log: options.log } : {}),
            catch: (error) =>
              new EmbeddedStartFailed({
                message: `embedded Postgres migrations failed: ${error instanceof Error ? error.message : String(error)}`
              })
          })
    // PGlite wrote its files 0666: the owner's only, now that initdb and the migrations are done.
    if (dataDir !== null)
      yield* Effect.try({
        try: () => restrictTree(dataDir),
        catch: (error) =>
          new EmbeddedStartFailed({
            message: `cannot restrict the data folder ${dataDir}: ${error instanceof Error ? error.message : String(error)}`
          })
      })
    return EmbeddedPostgres.of({
      ownerUrl: Redacted.make(url),
      // One connection: PGlite runs one statement at a time whatever the pool, and pglite-socket
      // interleaves its connections' messages, holding the others while one is inside a
      // transaction (every tenant query is one here: SET LOCAL ROLE). With four, a burst of
      // concurrent lookups (20 unknown tokens at once through `npm start`) left queries that never
      // answered: 503s at the proxy, and a SIGTERM that waited on them forever. One connection
      // queues in the pool instead, in order.
      app: { url: Redacted.make(url), appRole: APP_ROLE, maxConnections: 1, applicationName: "ibex" },
      migrations,
      dataDir,
      pglite: started.pglite
    })
  }).pipe(Effect.withSpan("EmbeddedPostgres.start"))

export const EmbeddedPostgresLive = (options: EmbeddedOptions = {}) =>
  Layer.scoped(EmbeddedPostgres, startEmbedded(options))
