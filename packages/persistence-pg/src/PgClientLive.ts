import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { PgClient } from "@effect/sql-pg"
import { StoreUnavailable } from "@ibex/domain"
import { Context, Duration, Effect, ExecutionStrategy, Exit, Layer, Option, Redacted, Scope } from "effect"

/** The application role: logs in (on real Postgres), owns nothing, no SUPERUSER, no BYPASSRLS. */
export const APP_ROLE = "ibex_app"
/**
 * The platform role (migration 0011): ibex_app's tenant grants plus creating, finding, listing and
 * changing orgs, which ibex_app may not. Platform operations (the OrgStore, the unit of work that
 * onboards an org, the seed) run on a pool of their own as this role.
 */
export const PLATFORM_ROLE = "ibex_platform"

/** How the services reach Postgres: always as the application role, never as the owner. */
export interface PgConnectionConfig {
  /** The app role's connection URL (see `appUrlFromOwnerUrl`). */
  readonly url: Redacted.Redacted<string>
  /**
   * Set when the server cannot log in as the app role and every session is the superuser
   * (PGlite over its socket): each transaction then starts with `set_config('role', …, true)`
   * (SET LOCAL ROLE), so row-level security applies exactly as on Postgres. Null on Postgres.
   */
  readonly appRole?: string | null | undefined
  /** Pool size. PGlite runs one transaction at a time: keep it small there. Default 10. */
  readonly maxConnections?: number | undefined
  readonly applicationName?: string | undefined
  /**
   * Where the platform operations connect (as ibex_platform). Default: derived from this
   * config (`platformConfigFor`). Opened on first use only, so a service that never onboards an
   * org never opens it, and one whose platform login fails still serves tenants.
   */
  readonly platform?: PgConnectionConfig | undefined
}

/**
 * The app URL from the owner's: the same server and database with the app role as user and no
 * password (trust or peer auth, as on these machines). Deployments that give the role a
 * password set DATABASE_APP_URL instead.
 */
export const appUrlFromOwnerUrl = (ownerUrl: string, role: string = APP_ROLE): string => {
  const url = new URL(ownerUrl)
  url.username = role
  url.password = ""
  return url.toString()
}

/**
 * The platform pool's config from the app pool's: where the role is assumed per transaction
 * (PGlite), the same server assuming ibex_platform; where the login is the role (Postgres), the
 * same URL with user ibex_platform and no password (trust or peer auth; deployments that give it a
 * password set DATABASE_PLATFORM_URL instead).
 */
export const platformConfigFor = (config: PgConnectionConfig): PgConnectionConfig =>
  config.platform ??
  (config.appRole !== null && config.appRole !== undefined
    ? // The role assumed per transaction is the embedded PGlite: one connection (embedded.ts: why).
      { url: config.url, appRole: PLATFORM_ROLE, maxConnections: 1, applicationName: "ibex-platform" }
    : {
        url: Redacted.make(appUrlFromOwnerUrl(Redacted.value(config.url), PLATFORM_ROLE)),
        appRole: null,
        maxConnections: 2,
        applicationName: "ibex-platform"
      })

/** Which role, if any, the current connection must assume per transaction (null: the login role is already the app role). */
export class PgAppRole extends Context.Reference<PgAppRole>()("@ibex/persistence-pg/PgAppRole", {
  defaultValue: (): { readonly role: string | null } => ({ role: null })
}) {}

/**
 * The code of the error under a failed connect (a socket's `ECONNREFUSED`, Postgres's SQLSTATE
 * such as `3D000` for a missing database or `28P01` for a refused password), so a start that
 * fails says why; never the message, which can name users and hosts.
 */
const driverCode = (error: unknown): string | undefined => {
  for (let e: unknown = error, depth = 0; typeof e === "object" && e !== null && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === "string" && /^[A-Z0-9_]{2,32}$/.test(code)) return code
    e = (e as { cause?: unknown }).cause
  }
  return undefined
}

/** One `@effect/sql-pg` pool and its role setting, no platform pool. */
const pool = (
  config: PgConnectionConfig
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient | PgAppRole, StoreUnavailable> =>
  Layer.merge(
    PgClient.layer({
      url: config.url,
      maxConnections: config.maxConnections ?? 10,
      idleTimeout: Duration.seconds(30),
      connectTimeout: Duration.seconds(5),
      applicationName: config.applicationName ?? "ibex"
    }).pipe(
      Layer.mapError((error) => {
        const code = driverCode(error)
        return new StoreUnavailable({ operation: "PgClient.connect", ...(code === undefined ? {} : { detail: code }) })
      })
    ),
    Layer.succeed(PgAppRole, { role: config.appRole ?? null })
  )

/** A pool as the stores hold it: the client, and `provide` to run an operation on it. */
export interface CapturedDatabase {
  readonly sql: SqlClient.SqlClient
  readonly provide: <A, E, R>(
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E, Exclude<Exclude<R, SqlClient.SqlClient>, PgAppRole>>
}

/** The platform pool (as ibex_platform), opened on first use and kept for the layer's life. */
export class PlatformPool extends Context.Tag("@ibex/persistence-pg/PlatformPool")<
  PlatformPool,
  { readonly database: Effect.Effect<CapturedDatabase, StoreUnavailable> }
>() {}

/** The platform pool for `config`, opened lazily (a failed opening is retried by the next operation). */
export const PlatformPoolLive = (config: PgConnectionConfig): Layer.Layer<PlatformPool> =>
  Layer.scoped(
    PlatformPool,
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      const lock = yield* Effect.makeSemaphore(1)
      let opened: CapturedDatabase | undefined
      const open = Effect.gen(function* () {
        const attempt = yield* Scope.fork(scope, ExecutionStrategy.sequential)
        const context = yield* Layer.buildWithScope(pool(config), attempt).pipe(
          Effect.tapError(() => Scope.close(attempt, Exit.void))
        )
        return yield* Effect.provide(captureDatabase, context)
      })
      return {
        database: Effect.suspend(() =>
          opened !== undefined
            ? Effect.succeed(opened)
            : lock.withPermits(1)(
                Effect.suspend(() =>
                  opened !== undefined
                    ? Effect.succeed(opened)
                    : Effect.tap(open, (db) => {
                        opened = db
                      })
                )
              )
        )
      }
    })
  )

/**
 * An `@effect/sql-pg` pool for the app role, plus the role setting `withOrg` reads, plus the
 * platform pool (lazily opened, `platformConfigFor`). A pool that cannot connect fails the layer
 * with StoreUnavailable (no driver message).
 */
export const PgClientLive = (
  config: PgConnectionConfig
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient | PgAppRole | PlatformPool, StoreUnavailable> =>
  Layer.merge(pool(config), PlatformPoolLive(platformConfigFor(config)))

const assumeRole = (sql: SqlClient.SqlClient, role: string | null) =>
  role === null ? Effect.void : sql`SELECT set_config('role', ${role}, true)`.pipe(Effect.asVoid)

/** Whether a transaction is already open in this fiber (a unit of work): its role then governs. */
const insideTransaction = Effect.map(Effect.serviceOption(SqlClient.TransactionConnection), Option.isSome)

/**
 * Runs `effect` in a transaction on this pool. The outermost transaction assumes the pool's role
 * where it must be assumed (PGlite); a nested one (a store call inside a unit of work) joins the
 * open transaction, connection and role included: a platform unit of work stays ibex_platform
 * through the tenant stores it calls, as it is on Postgres where the login is the role.
 */
export const transaction = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | SqlError, R | SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const { role } = yield* PgAppRole
    const nested = yield* insideTransaction
    return yield* sql.withTransaction(nested ? effect : Effect.zipRight(assumeRole(sql, role), effect))
  })

/**
 * Runs `effect` with org context: one transaction that first does
 * `SELECT set_config('app.current_org_id', $1, true)` (a bind parameter, transaction-scoped,
 * gone at commit or rollback, so a pooled connection never carries one tenant's context into
 * the next). Every tenant query goes through here; row-level security does the filtering.
 */
export const withOrg = <A, E, R>(
  orgId: string,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | SqlError, R | SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const { role } = yield* PgAppRole
    const nested = yield* insideTransaction
    return yield* sql.withTransaction(
      Effect.zipRight(
        role === null || nested
          ? sql`SELECT set_config('app.current_org_id', ${orgId}, true)`
          : sql`SELECT set_config('role', ${role}, true), set_config('app.current_org_id', ${orgId}, true)`,
        effect
      )
    )
  })

/**
 * Runs `effect` as the pool's role without org context: for the SECURITY DEFINER paths
 * (token lookup, platform operations). On Postgres that is simply the pooled connection (or the
 * open transaction's); where the role must be assumed, it is a transaction that assumes it first.
 */
export const withoutOrg = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | SqlError, R | SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const { role } = yield* PgAppRole
    return role === null ? yield* effect : yield* transaction(effect)
  })

/**
 * What a store captures when its layer is built: the pool and the role setting, provided again
 * to every operation so that `withOrg` sees them whatever the caller's context holds.
 */
export const captureDatabase: Effect.Effect<CapturedDatabase, never, SqlClient.SqlClient> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const appRole = yield* PgAppRole
  const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    effect.pipe(Effect.provideService(SqlClient.SqlClient, sql), Effect.provideService(PgAppRole, appRole))
  return { sql, provide }
})
