import { randomBytes } from "node:crypto"
import { existsSync } from "node:fs"
import { Data, Effect, type Scope } from "effect"
import { REQUIRE_REAL_INFRA_ENV, realInfraRequired } from "../infra/required.js"
import { escapeIdentifier, withClient } from "./pg.js"
import { provisionPglite } from "./pglite.js"

/**
 * A fresh, migrated database per test file (or per suite), dropped afterwards:
 *
 *  1. DATABASE_URL set (CI, and these machines): a new database on that server, cloned from a
 *     template database that was migrated once (`ibex_tpl_<migrations key>`, kept between runs
 *     and rebuilt when the migrations change; clones take a fraction of running them);
 *  2. else, when a Docker engine answers and testcontainers is installed: a PostgreSQL 15
 *     container, migrated, stopped afterwards;
 *  3. else PGlite in-process on a loopback socket, started from a migrated data folder cached
 *     in the OS temp directory.
 *
 * Testkit does not import the persistence adapter: the caller hands in the migration set
 * (its `migrate` function and a key naming the set), e.g. from @ibex/persistence-pg.
 */

export interface MigrationSet {
  /** Names the migration set (a digest of its files): the template is rebuilt when it changes. */
  readonly key: string
  /** Applies every migration to the database at the owner URL. */
  readonly migrate: (ownerUrl: string) => Promise<unknown>
}

export interface ProvisionedDatabase {
  readonly kind: "postgres" | "container" | "pglite"
  /** Database name (for messages). */
  readonly name: string
  /** The owner / superuser URL: migrations, inspection, raw SQL in tests. */
  readonly url: string
  /** The application role's URL: what the services use. */
  readonly appUrl: string
  /**
   * Non-null where the server cannot log in as the app role (PGlite: every session is the
   * superuser): connections must assume this role per transaction (SET LOCAL ROLE).
   */
  readonly appRole: string | null
  /** Milliseconds spent provisioning (clone or start, plus template work when it was needed). */
  readonly provisionMs: number
  readonly drop: () => Promise<void>
}

export interface ProvisionOptions {
  readonly migrations: MigrationSet
  /** Default process.env.DATABASE_URL. */
  readonly databaseUrl?: string | undefined
  /** Default "ibex_app". */
  readonly appRole?: string | undefined
  /** Force a backend (tests of the provisioning itself). */
  readonly backend?: "postgres" | "container" | "pglite" | undefined
}

export class ProvisionFailed extends Data.TaggedError("ProvisionFailed")<{ readonly message: string }> {}

const TEMPLATE_LOCK_KEY = 0x1bec_7e57
const TEMPLATE_READY = "ibex template ready"

const withDatabase = (url: string, database: string, user?: string): string => {
  const u = new URL(url)
  u.pathname = `/${database}`
  if (user !== undefined) {
    u.username = user
    u.password = ""
  }
  return u.toString()
}

/** Makes sure the migrated template for `key` exists; one process builds it, the others wait on the lock. */
const ensureTemplate = async (adminUrl: string, migrations: MigrationSet): Promise<string> => {
  const template = `ibex_tpl_${migrations.key.replace(/[^a-z0-9]/gi, "").toLowerCase()}`
  await withClient(adminUrl, async (admin) => {
    await admin.query("SELECT pg_advisory_lock($1)", [TEMPLATE_LOCK_KEY])
    try {
      const { rows } = await admin.query<{ datname: string; ready: string | null }>(
        "SELECT datname, shobj_description(oid, 'pg_database') AS ready FROM pg_database WHERE datname LIKE 'ibex\\_tpl\\_%'"
      )
      // Templates of other migration sets are stale: drop them.
      for (const row of rows)
        if (row.datname !== template)
          await admin.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(row.datname)} WITH (FORCE)`)
      const current = rows.find((r) => r.datname === template)
      if (current?.ready === TEMPLATE_READY) return
      // Missing, or half-made by a run that died: build it again.
      await admin.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(template)} WITH (FORCE)`)
      await admin.query(`CREATE DATABASE ${escapeIdentifier(template)}`)
      await migrations.migrate(withDatabase(adminUrl, template))
      await admin.query(`COMMENT ON DATABASE ${escapeIdentifier(template)} IS '${TEMPLATE_READY}'`)
    } finally {
      await admin.query("SELECT pg_advisory_unlock($1)", [TEMPLATE_LOCK_KEY]).catch(() => undefined)
    }
  })
  return template
}

const provisionOnServer = async (
  adminUrl: string,
  options: ProvisionOptions,
  kind: "postgres" | "container",
  onDrop: () => Promise<void> = async () => {}
): Promise<ProvisionedDatabase> => {
  const started = performance.now()
  const template = await ensureTemplate(adminUrl, options.migrations)
  const name = `ibex_test_${process.pid}_${randomBytes(4).toString("hex")}`
  await withClient(adminUrl, async (admin) => {
    // CREATE DATABASE waits a few seconds for the template's last session to go; retry once more if it raced.
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE ${escapeIdentifier(name)} TEMPLATE ${escapeIdentifier(template)}`)
        return
      } catch (error) {
        if (attempt >= 3 || (error as { code?: string }).code !== "55006") throw error
        await new Promise((r) => setTimeout(r, 200))
      }
    }
  })
  const provisionMs = Math.round(performance.now() - started)
  let dropped = false
  return {
    kind,
    name,
    url: withDatabase(adminUrl, name),
    appUrl: withDatabase(adminUrl, name, options.appRole ?? "ibex_app"),
    appRole: null,
    provisionMs,
    drop: async () => {
      if (dropped) return
      dropped = true
      await withClient(adminUrl, (admin) =>
        admin.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(name)} WITH (FORCE)`)
      )
      await onDrop()
    }
  }
}

const dockerAnswers = (): boolean =>
  (process.env.DOCKER_HOST !== undefined && process.env.DOCKER_HOST !== "") || existsSync("/var/run/docker.sock")

interface StartedContainer {
  getConnectionUri(): string
  stop(): Promise<unknown>
}
interface ContainerModule {
  readonly PostgreSqlContainer: new (image: string) => { start(): Promise<StartedContainer> }
}

/** testcontainers is optional (not installed here: these machines have no Docker engine). */
const provisionInContainer = async (options: ProvisionOptions): Promise<ProvisionedDatabase | null> => {
  const specifier = "@testcontainers/postgresql"
  const mod = (await import(/* @vite-ignore */ specifier).catch(() => null)) as ContainerModule | null
  if (mod === null) return null
  const container = await new mod.PostgreSqlContainer("postgres:15-alpine").start()
  return provisionOnServer(container.getConnectionUri(), options, "container", async () => {
    await container.stop()
  })
}

export const provisionDatabase = async (options: ProvisionOptions): Promise<ProvisionedDatabase> => {
  const databaseUrl = options.databaseUrl ?? process.env.DATABASE_URL
  const backend =
    options.backend ??
    (databaseUrl !== undefined && databaseUrl !== "" ? "postgres" : dockerAnswers() ? "container" : "pglite")
  if (backend === "postgres") {
    if (databaseUrl === undefined || databaseUrl === "")
      throw new ProvisionFailed({ message: "DATABASE_URL is not set" })
    return provisionOnServer(databaseUrl, options, "postgres")
  }
  if (backend === "container") {
    const provisioned = await provisionInContainer(options)
    if (provisioned !== null) return provisioned
  }
  if (options.backend !== "pglite" && realInfraRequired())
    throw new ProvisionFailed({
      message: `${REQUIRE_REAL_INFRA_ENV}=1 and DATABASE_URL is not set: refusing to fall back to PGlite`
    })
  return provisionPglite(options.migrations, options.appRole ?? "ibex_app")
}

/** `provisionDatabase` as a scoped Effect: the database is dropped when the scope closes. */
export const provisionedDatabase = (
  options: ProvisionOptions
): Effect.Effect<ProvisionedDatabase, ProvisionFailed, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => provisionDatabase(options),
      catch: (error) =>
        error instanceof ProvisionFailed
          ? error
          : new ProvisionFailed({
              message: `could not provision a test database: ${error instanceof Error ? error.message : String(error)}`
            })
    }),
    (db) => Effect.promise(() => db.drop().catch(() => undefined))
  )
