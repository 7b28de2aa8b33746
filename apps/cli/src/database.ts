import { readdirSync, readlinkSync } from "node:fs"
import { resolve, sep } from "node:path"
import {
  APP_ROLE,
  type DatabaseTarget,
  databaseFromEnv,
  type MigrationFailed,
  type MigrationReport,
  migrate,
  PgClientLive,
  PLATFORM_ROLE,
  readStackEndpoint,
  type StackEndpoint,
  StoresLive,
  startEmbedded
} from "@ibex/persistence-pg"
import { Effect, Layer, Option, Redacted, type Scope } from "effect"
import type { CliEnv } from "./config.js"
import { type CliError, operationError } from "./output.js"

/**
 * The database the platform-admin commands work on: DATABASE_URL's server, or the embedded
 * PGlite data folder. PGlite itself does not lock its folder, and two processes writing one
 * corrupt it; so before opening it the CLI looks for another process holding files in it
 * (Linux /proc: a running stack keeps its WAL open). A running stack records how to reach it
 * (ibex-stack.json): the CLI then works through it; any other holder is refused clearly.
 */

/** Pids of other processes with a file open under `dir` (Linux; elsewhere an empty list). */
export const processesUsing = (dir: string): Array<number> => {
  const root = resolve(dir)
  const prefix = root.endsWith(sep) ? root : `${root}${sep}`
  let pids: Array<string>
  try {
    pids = readdirSync("/proc").filter((name) => /^\d+$/.test(name))
  } catch {
    return []
  }
  const holders: Array<number> = []
  for (const pid of pids) {
    if (Number(pid) === process.pid) continue
    let fds: Array<string>
    try {
      fds = readdirSync(`/proc/${pid}/fd`)
    } catch {
      continue
    }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`)
        if (target === root || target.startsWith(prefix)) {
          holders.push(Number(pid))
          break
        }
      } catch {
        // the fd closed meanwhile
      }
    }
  }
  return holders
}

export const embeddedInUse = (dataDir: string, holders: ReadonlyArray<number>) =>
  operationError(
    `the embedded database folder ${dataDir} is in use by another process (pid ${holders.join(", ")}) ` +
      "that records no way to reach it (no ibex-stack.json): stop it (or `npm start`) first, " +
      "or point DATABASE_URL at a Postgres server"
  )

/**
 * Who holds the embedded folder: nobody (the CLI may open it), a running stack that recorded how
 * to reach it (the CLI works through it), or another process (refused: two writers corrupt it).
 */
export type EmbeddedState =
  | { readonly _tag: "Free" }
  | { readonly _tag: "RunningStack"; readonly endpoint: StackEndpoint }

export const embeddedState = (dataDir: string): Effect.Effect<EmbeddedState, CliError> =>
  Effect.suspend((): Effect.Effect<EmbeddedState, CliError> => {
    const holders = processesUsing(dataDir)
    if (holders.length === 0) return Effect.succeed({ _tag: "Free" } as const)
    const endpoint = readStackEndpoint(resolve(dataDir))
    return Option.isSome(endpoint) && holders.includes(endpoint.value.pid)
      ? Effect.succeed({ _tag: "RunningStack", endpoint: endpoint.value } as const)
      : Effect.fail(embeddedInUse(dataDir, holders))
  })

/** The running stack's database over its PGlite socket (owner URL; services assume the app role). */
const runningStackTarget = (endpoint: StackEndpoint): DatabaseTarget => ({
  kind: "embedded",
  ownerUrl: endpoint.databaseUrl,
  app: { url: endpoint.databaseUrl, appRole: APP_ROLE, maxConnections: 1, applicationName: "ibex-cli" }
})

const startFailed = (error: { readonly message: string }) => operationError(error.message)

/** Where to connect, opening (and migrating) the embedded database when DATABASE_URL is unset. */
export const openDatabase = (env: CliEnv): Effect.Effect<DatabaseTarget, CliError, Scope.Scope> =>
  Option.match(env.databaseUrl, {
    onSome: (url) =>
      databaseFromEnv({
        DATABASE_URL: Redacted.value(url),
        DATABASE_APP_URL: Option.match(env.databaseAppUrl, { onNone: () => undefined, onSome: Redacted.value })
      }).pipe(Effect.mapError(startFailed)),
    onNone: () =>
      Effect.flatMap(embeddedState(env.dataDir), (state) =>
        state._tag === "RunningStack"
          ? Effect.succeed(runningStackTarget(state.endpoint))
          : databaseFromEnv({ IBEX_DATA_DIR: resolve(env.dataDir) }).pipe(Effect.mapError(startFailed))
      )
  })

export const describeTarget = (env: CliEnv, target: Pick<DatabaseTarget, "kind">): string => {
  if (target.kind === "embedded") return `embedded database (${resolve(env.dataDir)})`
  const url = Option.map(env.databaseUrl, (u) => {
    try {
      const parsed = new URL(Redacted.value(u))
      return `${parsed.host}${parsed.pathname}`
    } catch {
      return "DATABASE_URL"
    }
  })
  return `Postgres ${Option.getOrElse(url, () => "DATABASE_URL")}`
}

/**
 * The store ports on a small app-role pool over `target` (org / agent commands, the seed). The
 * platform operations (creating, finding, listing and changing orgs; onboarding's unit of work)
 * run as ibex_platform: the owner's connection assumes it per transaction (migration 0011).
 */
export const storesOn = (target: DatabaseTarget) =>
  StoresLive.pipe(
    Layer.provideMerge(
      PgClientLive({
        ...target.app,
        maxConnections: 2,
        applicationName: "ibex-cli",
        platform: { url: target.ownerUrl, appRole: PLATFORM_ROLE, maxConnections: 1, applicationName: "ibex-cli" }
      })
    )
  )

export const unreachable = () =>
  operationError("the database is unreachable or not migrated (run `ibex db migrate` first, check DATABASE_URL)")

/** Migrations on DATABASE_URL, or on the embedded folder (opening it runs them). */
export const runMigrationsFor = (
  env: CliEnv,
  log: (line: string) => void
): Effect.Effect<{ readonly report: MigrationReport; readonly where: string }, CliError> =>
  Option.match(env.databaseUrl, {
    onSome: (url) =>
      migrate(Redacted.value(url), { log }).pipe(
        Effect.map((report) => ({ report, where: describeTarget(env, { kind: "postgres" }) })),
        Effect.mapError((e: MigrationFailed) => operationError(`migration failed: ${e.message}`))
      ),
    onNone: () =>
      Effect.flatMap(embeddedState(env.dataDir), (state) =>
        state._tag === "RunningStack"
          ? migrate(Redacted.value(state.endpoint.databaseUrl), { log }).pipe(
              Effect.map((report) => ({
                report,
                where: `${describeTarget(env, { kind: "embedded" })} through the running stack (pid ${state.endpoint.pid})`
              })),
              Effect.mapError((e: MigrationFailed) => operationError(`migration failed: ${e.message}`))
            )
          : startEmbedded({ dataDir: resolve(env.dataDir), log }).pipe(
              Effect.map((db) => ({
                report: db.migrations ?? { applied: [], alreadyApplied: 0, durationMs: 0 },
                where: describeTarget(env, { kind: "embedded" })
              })),
              Effect.mapError(startFailed),
              Effect.scoped
            )
      )
  })
