import type { SqlClient } from "@effect/sql"
import type { Statement } from "@effect/sql/Statement"
import { type OrgId, OrgStore, RevocationEvent, UserStore } from "@ibex/domain"
import { Effect, Layer, Option, PubSub } from "effect"
import { storeOperation } from "./errors.js"
import { captureDatabase, PlatformPool, withOrg, withoutOrg } from "./PgClientLive.js"
import { RevocationHub } from "./RevocationHub.js"
import { type OrgRow, orgFromRow, type UserRow, userFromRow } from "./rows.js"

const firstRow = <A>(rows: ReadonlyArray<A>) =>
  rows[0] === undefined ? Effect.dieMessage("statement returned no row") : Effect.succeed(rows[0])

/**
 * OrgStore on Postgres, on the platform pool (ibex_platform, migration 0011): the tenant-serving
 * role ibex_app may not create, find by name, list or change orgs. Reading or changing an org
 * happens in that org's own context (the organizations policy compares `id`); creating one,
 * finding one by name and listing them go through the SECURITY DEFINER functions create_org,
 * find_org_by_name and list_orgs.
 */
export const OrgStoreLive = Layer.effect(
  OrgStore,
  Effect.gen(function* () {
    const platform = yield* PlatformPool
    const hub = yield* RevocationHub
    /** `f` on the platform pool (opened on first use). */
    const onPlatform = <A, E>(f: (sql: SqlClient.SqlClient) => Effect.Effect<A, E, SqlClient.SqlClient>) =>
      Effect.flatMap(platform.database, ({ sql, provide }) => provide(f(sql)))
    /** After commit, for this process's caches (PGlite delivers no NOTIFY across connections). */
    const announce = (orgId: OrgId) => (changed: Option.Option<unknown>) =>
      Option.isSome(changed) ? PubSub.publish(hub, RevocationEvent.OrgChanged({ orgId })) : Effect.void
    const updateOne = (orgId: OrgId, operation: string, statement: (sql: SqlClient.SqlClient) => Statement<OrgRow>) =>
      onPlatform((sql) => withOrg(orgId, statement(sql))).pipe(
        Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), orgFromRow)),
        storeOperation(operation),
        Effect.tap(announce(orgId))
      )
    return OrgStore.of({
      find: (orgId) =>
        onPlatform((sql) =>
          withOrg(orgId, sql<OrgRow>`SELECT * FROM ibex_core.organizations WHERE id = ${orgId}`)
        ).pipe(
          Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), orgFromRow)),
          storeOperation("OrgStore.find")
        ),
      insert: (org) =>
        onPlatform((sql) =>
          withoutOrg(
            sql<OrgRow>`
              SELECT * FROM ibex_core.create_org(
                ${org.id}, ${org.name}, ${org.status}, ${org.rateLimitPerMinute}::integer, ${org.createdAt})`.pipe(
              Effect.flatMap(firstRow)
            )
          )
        ).pipe(Effect.map(orgFromRow), storeOperation("OrgStore.insert")),
      setStatus: (orgId, status) =>
        updateOne(
          orgId,
          "OrgStore.setStatus",
          (sql) => sql<OrgRow>`UPDATE ibex_core.organizations SET status = ${status} WHERE id = ${orgId} RETURNING *`
        ),
      findByName: (name) =>
        onPlatform((sql) => withoutOrg(sql<OrgRow>`SELECT * FROM ibex_core.find_org_by_name(${name})`)).pipe(
          Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), orgFromRow)),
          storeOperation("OrgStore.findByName")
        ),
      list: onPlatform((sql) => withoutOrg(sql<OrgRow>`SELECT * FROM ibex_core.list_orgs()`)).pipe(
        Effect.map((rows) => rows.map(orgFromRow)),
        storeOperation("OrgStore.list")
      ),
      rename: (orgId, name) =>
        updateOne(
          orgId,
          "OrgStore.rename",
          (sql) => sql<OrgRow>`UPDATE ibex_core.organizations SET name = ${name} WHERE id = ${orgId} RETURNING *`
        ),
      // Announced as setStatus is: the validator caches the org's limit in each principal.
      setRateLimit: (orgId, perMinute) =>
        updateOne(
          orgId,
          "OrgStore.setRateLimit",
          (sql) => sql<OrgRow>`
            UPDATE ibex_core.organizations SET rate_limit_per_minute = ${perMinute}::integer
            WHERE id = ${orgId} RETURNING *`
        )
    })
  })
)

/** UserStore on Postgres: tenant-scoped like every other table. */
export const UserStoreLive = Layer.effect(
  UserStore,
  Effect.gen(function* () {
    const { sql, provide } = yield* captureDatabase
    return UserStore.of({
      find: (orgId, userId) =>
        withOrg(
          orgId,
          sql<UserRow>`
            SELECT id, org_id, email, display_name, created_at FROM ibex_core.users
            WHERE id = ${userId} AND org_id = ${orgId}`
        ).pipe(
          Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), userFromRow)),
          provide,
          storeOperation("UserStore.find")
        ),
      insert: (user) =>
        withOrg(
          user.orgId,
          sql<UserRow>`
            INSERT INTO ibex_core.users (id, org_id, email, display_name, created_at)
            VALUES (${user.id}, ${user.orgId}, ${user.email}, ${user.displayName}, ${user.createdAt})
            RETURNING id, org_id, email, display_name, created_at`.pipe(Effect.flatMap(firstRow))
        ).pipe(Effect.map(userFromRow), provide, storeOperation("UserStore.insert"))
    })
  })
)
