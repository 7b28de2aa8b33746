import { mkdirSync } from "node:fs"
import { resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import { Context, Data, Effect, Layer, Redacted } from "effect"
import { type MigrationReport, runMigrations } from "./migrate.js"
import { APP_ROLE, type PgConnectionConfig } from "./PgClientLive.js"

/**
 * The embedded default: with no DATABASE_URL the product runs PGlite (Postgres compiled to
 * WebAssembly) in-process, keeps its data in a local folder, and serves it on loopback with
 * pglite-socket so that the normal driver (`pg` under `@effect/sql-pg`) talks to it like to
 * any Postgres. Same migrations, same row-level security.
 *
 * Two differences from a Postgres server, both handled here:
 *  - every connection is the superuser `postgres`, whatever user it logs in as, so the app
 *    connection assumes `ibex_app` per transaction (`appRole`, SET LOCAL ROLE) and row-level
 *    security applies exactly as on Postgres;
 *  - it runs one transaction at a time and does not deliver NOTIFY across connections: keep
 *    the pool small; revocations reach this process's own caches in-process (RevocationHub).
 * One process at a time may open a data folder.
 */

export const defaultDataDir = (): string =>
  process.env.IBEX_DATA_DIR ?? fileURLToPath(new URL("../../../.ibex/pgdata", import.meta.url))

export interface EmbeddedOptions {
  /** Folder for the data; default IBEX_DATA_DIR or `.ibex/pgdata` at the repo root. "memory" keeps nothing. */
  readonly dataDir?: string | undefined
  /** Loopback port; default 0 (an ephemeral port). */
  readonly port?: number | undefined
  readonly host?: string | undefined
  /** Socket connections the server accepts (the pool, the revocation listener, migrations). Default 16. */
  readonly maxConnections?: number | undefined
  /** Run the migrations after start. Default true. */
  readonly migrate?: boolean | undefined
  /** A migrated data folder tarball (PGlite dumpDataDir) to start from instead of an empty one (tests). */
  readonly loadDataDir?: Blob | undefined
  readonly log?: ((line: string) => void) | undefined
}

export interface EmbeddedPostgresShape {
  /** The superuser's URL (migrations, admin). */
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

/** Starts PGlite on loopback (and migrates it); stops the server and closes the database when the scope closes. */
export const startEmbedded = (options: EmbeddedOptions = {}) =>
  Effect.gen(function* () {
    const dataDir = options.dataDir === "memory" ? null : resolve(options.dataDir ?? defaultDataDir())
    const started = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          if (dataDir !== null) mkdirSync(dataDir, { recursive: true })
          const pglite = await PGlite.create(
            dataDir ?? undefined,
            options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}
          )
          const server = new PGLiteSocketServer({
            db: pglite,
            host: options.host ?? "127.0.0.1",
            port: options.port ?? 0,
            maxConnections: options.maxConnections ?? 16
          })
          try {
            await server.start()
          } catch (error) {
            await pglite.close().catch(() => undefined)
            throw error
          }
          return { pglite, server }
        },
        catch: (error) =>
          new EmbeddedStartFailed({
            message: `embedded Postgres did not start${dataDir ? ` (data folder ${dataDir}, used by another process?)` : ""}: ${
              error instanceof Error ? error.message : String(error)
            }`
          })
      }),
      ({ pglite, server }) =>
        Effect.promise(async () => {
          await server.stop().catch(() => undefined)
          await pglite.close().catch(() => undefined)
        })
    )
    const url = `postgres://postgres@${started.server.getServerConn()}/postgres`
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
    return EmbeddedPostgres.of({
      ownerUrl: Redacted.make(url),
      app: { url: Redacted.make(url), appRole: APP_ROLE, maxConnections: 4, applicationName: "ibex" },
      migrations,
      dataDir,
      pglite: started.pglite
    })
  }).pipe(Effect.withSpan("EmbeddedPostgres.start"))

export const EmbeddedPostgresLive = (options: EmbeddedOptions = {}) =>
  Layer.scoped(EmbeddedPostgres, startEmbedded(options))
