// npm run db:migrate: applies the numbered files in migrations/ to DATABASE_URL's database, or,
// with no DATABASE_URL, to the embedded PGlite data folder (IBEX_DATA_DIR or .ibex/pgdata).
// Forward-only, idempotent, safe to run from two processes at once.
import { migrate, startEmbedded } from "@ibex/persistence-pg"
import { Effect } from "effect"

const log = (line: string) => console.log(`  ${line}`)

const program = Effect.gen(function* () {
  const url = process.env.DATABASE_URL
  if (url !== undefined && url !== "") {
    const target = new URL(url)
    console.log(
      `Migrating ${target.host}${target.pathname} as ${decodeURIComponent(target.username) || "(default user)"}`
    )
    return yield* migrate(url, { log })
  }
  console.log("DATABASE_URL is not set: migrating the embedded database")
  const db = yield* startEmbedded({ log })
  console.log(`  data folder ${db.dataDir}`)
  return db.migrations ?? { applied: [], alreadyApplied: 0, durationMs: 0 }
}).pipe(Effect.scoped)

Effect.runPromise(program).then(
  (report) => {
    console.log(
      report.applied.length === 0
        ? `Up to date (${report.alreadyApplied} migrations applied earlier), ${report.durationMs} ms`
        : `Applied ${report.applied.length} migration(s) in ${report.durationMs} ms`
    )
  },
  (error: unknown) => {
    console.error(`db:migrate failed: ${error instanceof Error ? error.message : String(error)}`)
    process.exitCode = 1
  }
)
