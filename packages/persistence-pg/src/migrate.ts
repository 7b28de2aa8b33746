import { createHash } from "node:crypto"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Data, Effect } from "effect"
import { newPgClient } from "./pg.js"

/**
 * The migration runner: forward-only numbered SQL files (`NNNN_name.sql` in migrations/),
 * each applied once, in order, in its own transaction, and recorded with its checksum in
 * ibex_migrations.applied. Safe to run twice (the second run applies nothing) and from two
 * processes at once (a session advisory lock serializes them; the second finds the work done).
 * An applied file whose text changed, or a database that knows a version this code does not,
 * stops the run: fix forward with a new file instead.
 */

export const defaultMigrationsDir = fileURLToPath(new URL("../../../migrations/", import.meta.url))

export interface MigrationFile {
  readonly version: number
  readonly name: string
  readonly sql: string
  readonly checksum: string
}

export interface MigrationReport {
  readonly applied: ReadonlyArray<string>
  readonly alreadyApplied: number
  readonly durationMs: number
}

export class MigrationFailed extends Data.TaggedError("MigrationFailed")<{ readonly message: string }> {}

const filePattern = /^(\d{4})_([a-z0-9_]+)\.sql$/
/** pg_advisory_lock key shared by every runner of this schema ("ibex" + "mig"). */
const LOCK_KEY = 0x1bec_5a1e

export const loadMigrations = (dir: string = defaultMigrationsDir): ReadonlyArray<MigrationFile> => {
  const files = readdirSync(dir)
    .filter((name) => name.endsWith(".sql"))
    .map((name) => {
      const match = filePattern.exec(name)
      if (match === null) throw new MigrationFailed({ message: `migration file name must be NNNN_name.sql: ${name}` })
      const sql = readFileSync(join(dir, name), "utf8")
      return {
        version: Number(match[1]),
        name,
        sql,
        checksum: createHash("sha256").update(sql).digest("hex")
      }
    })
    .sort((a, b) => a.version - b.version)
  files.forEach((file, i) => {
    if (i > 0 && files[i - 1]?.version === file.version)
      throw new MigrationFailed({ message: `two migrations share version ${file.version}` })
  })
  return files
}

/** A short digest of the whole migration set: test provisioning names its template database by it. */
export const migrationsKey = (files: ReadonlyArray<MigrationFile> = loadMigrations()): string =>
  createHash("sha256")
    .update(files.map((f) => `${f.name}:${f.checksum}`).join("\n"))
    .digest("hex")
    .slice(0, 16)

/** Applies pending migrations to the database at `url` (the owner's URL: migrations create roles and tables). */
export const runMigrations = async (
  url: string,
  options: { readonly dir?: string; readonly log?: (line: string) => void } = {}
): Promise<MigrationReport> => {
  const started = performance.now()
  const files = loadMigrations(options.dir)
  const log = options.log ?? (() => {})
  const client = newPgClient({ connectionString: url, application_name: "ibex-migrate" })
  client.on("error", () => {})
  await client.connect()
  try {
    await client.query("SELECT pg_advisory_lock($1)", [LOCK_KEY])
    try {
      await client.query(`
        CREATE SCHEMA IF NOT EXISTS ibex_migrations;
        REVOKE ALL ON SCHEMA ibex_migrations FROM PUBLIC;
        CREATE TABLE IF NOT EXISTS ibex_migrations.applied (
          version integer PRIMARY KEY,
          name text NOT NULL,
          checksum text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        );`)
      const { rows } = await client.query<{ version: number; name: string; checksum: string }>(
        "SELECT version, name, checksum FROM ibex_migrations.applied ORDER BY version"
      )
      const known = new Map(files.map((f) => [f.version, f]))
      for (const row of rows) {
        const file = known.get(row.version)
        if (file === undefined)
          throw new MigrationFailed({
            message: `the database has migration ${row.name}, which this code does not know: is it newer than the code?`
          })
        if (file.checksum !== row.checksum)
          throw new MigrationFailed({
            message: `migration ${row.name} was changed after it was applied; add a new migration instead`
          })
      }
      const done = new Set(rows.map((r) => r.version))
      const applied: Array<string> = []
      let skipped = done.size
      for (const file of files) {
        if (done.has(file.version)) continue
        await client.query("BEGIN")
        try {
          // Claim the version first: where the advisory lock does not separate two runners
          // (PGlite multiplexes its connections onto one session), the second waits on this row
          // and then skips the file instead of applying it twice.
          const claim = await client.query(
            "INSERT INTO ibex_migrations.applied (version, name, checksum) VALUES ($1, $2, $3) ON CONFLICT (version) DO NOTHING RETURNING version",
            [file.version, file.name, file.checksum]
          )
          if (claim.rows.length === 0) {
            await client.query("ROLLBACK")
            skipped++
            continue
          }
          await client.query(file.sql)
          await client.query("COMMIT")
        } catch (error) {
          await client.query("ROLLBACK").catch(() => undefined)
          const reason = error instanceof Error ? error.message : String(error)
          throw new MigrationFailed({ message: `migration ${file.name} failed: ${reason}` })
        }
        log(`applied ${file.name}`)
        applied.push(file.name)
      }
      return { applied, alreadyApplied: skipped, durationMs: Math.round(performance.now() - started) }
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [LOCK_KEY]).catch(() => undefined)
    }
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** `runMigrations` as an Effect. The failure carries the runner's message: it is for the operator, never a client. */
export const migrate = (url: string, options: { readonly dir?: string; readonly log?: (line: string) => void } = {}) =>
  Effect.tryPromise({
    try: () => runMigrations(url, options),
    catch: (error) =>
      error instanceof MigrationFailed
        ? error
        : new MigrationFailed({ message: error instanceof Error ? error.message : String(error) })
  }).pipe(Effect.withSpan("Migrations.run"))
