import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { PgClient } from "@effect/sql-pg"
import { StoreUnavailable } from "@ibex/domain"
import { Context, Duration, Effect, Layer, type Redacted } from "effect"

/** The application role: logs in (on real Postgres), owns nothing, no SUPERUSER, no BYPASSRLS. */
export const APP_ROLE = "ibex_app"

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

/** Which role, if any, the current connection must assume per transaction (null: the login role is already the app role). */
export class PgAppRole extends Context.Reference<PgAppRole>()("@ibex/persistence-pg/PgAppRole", {
  defaultValue: (): { readonly role: string | null } => ({ role: null })
}) {}

/**
 * An `@effect/sql-pg` pool for the app role, plus the role setting `withOrg` reads. A pool
 * that cannot connect fails the layer with StoreUnavailable (no driver message).
 */
export const PgClientLive = (
  config: PgConnectionConfig
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient | PgAppRole, StoreUnavailable> =>
  Layer.merge(
    PgClient.layer({
      url: config.url,
      maxConnections: config.maxConnections ?? 10,
      idleTimeout: Duration.seconds(30),
      connectTimeout: Duration.seconds(5),
      applicationName: config.applicationName ?? "ibex"
    }).pipe(Layer.mapError(() => new StoreUnavailable({ operation: "PgClient.connect" }))),
    Layer.succeed(PgAppRole, { role: config.appRole ?? null })
  )

const assumeRole = (sql: SqlClient.SqlClient, role: string | null) =>
  role === null ? Effect.void : sql`SELECT set_config('role', ${role}, true)`.pipe(Effect.asVoid)

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
    return yield* sql.withTransaction(
      Effect.zipRight(
        role === null
          ? sql`SELECT set_config('app.current_org_id', ${orgId}, true)`
          : sql`SELECT set_config('role', ${role}, true), set_config('app.current_org_id', ${orgId}, true)`,
        effect
      )
    )
  })

/**
 * Runs `effect` as the app role without org context: for the SECURITY DEFINER paths
 * (token lookup, platform operations). On Postgres that is simply the pooled connection;
 * where the role must be assumed, it is a transaction that assumes it first.
 */
export const withoutOrg = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | SqlError, R | SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const { role } = yield* PgAppRole
    return role === null ? yield* effect : yield* sql.withTransaction(Effect.zipRight(assumeRole(sql, role), effect))
  })

/**
 * What a store captures when its layer is built: the pool and the role setting, provided again
 * to every operation so that `withOrg` sees them whatever the caller's context holds.
 */
export const captureDatabase = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const appRole = yield* PgAppRole
  const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    effect.pipe(Effect.provideService(SqlClient.SqlClient, sql), Effect.provideService(PgAppRole, appRole))
  return { sql, provide }
})
