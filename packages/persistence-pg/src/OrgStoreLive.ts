import { OrgStore, RevocationEvent, UserStore } from "@ibex/domain"
import { Effect, Layer, Option, PubSub } from "effect"
import { storeOperation } from "./errors.js"
import { captureDatabase, withOrg, withoutOrg } from "./PgClientLive.js"
import { RevocationHub } from "./RevocationHub.js"
import { type OrgRow, orgFromRow, type UserRow, userFromRow } from "./rows.js"

const firstRow = <A>(rows: ReadonlyArray<A>) =>
  rows[0] === undefined ? Effect.dieMessage("statement returned no row") : Effect.succeed(rows[0])

/**
 * OrgStore on Postgres. Reading or changing an org happens in that org's own context (the
 * organizations policy compares `id`); creating one and finding one by name are platform
 * operations, done through the SECURITY DEFINER functions create_org and find_org_by_name.
 */
export const OrgStoreLive = Layer.effect(
  OrgStore,
  Effect.gen(function* () {
    const { sql, provide } = yield* captureDatabase
    const hub = yield* RevocationHub
    return OrgStore.of({
      find: (orgId) =>
        withOrg(orgId, sql<OrgRow>`SELECT * FROM ibex_core.organizations WHERE id = ${orgId}`).pipe(
          Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), orgFromRow)),
          provide,
          storeOperation("OrgStore.find")
        ),
      insert: (org) =>
        withoutOrg(
          sql<OrgRow>`
            SELECT * FROM ibex_core.create_org(
              ${org.id}, ${org.name}, ${org.status}, ${org.rateLimitPerMinute}::integer, ${org.createdAt})`.pipe(
            Effect.flatMap(firstRow)
          )
        ).pipe(Effect.map(orgFromRow), provide, storeOperation("OrgStore.insert")),
      setStatus: (orgId, status) =>
        withOrg(
          orgId,
          sql<OrgRow>`UPDATE ibex_core.organizations SET status = ${status} WHERE id = ${orgId} RETURNING *`
        ).pipe(
          Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), orgFromRow)),
          provide,
          storeOperation("OrgStore.setStatus"),
          // After commit, for this process's caches (PGlite delivers no NOTIFY across connections).
          Effect.tap((changed) =>
            Option.isSome(changed) ? PubSub.publish(hub, RevocationEvent.OrgChanged({ orgId })) : Effect.void
          )
        ),
      findByName: (name) =>
        withoutOrg(sql<OrgRow>`SELECT * FROM ibex_core.find_org_by_name(${name})`).pipe(
          Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), orgFromRow)),
          provide,
          storeOperation("OrgStore.findByName")
        ),
      list: withoutOrg(sql<OrgRow>`SELECT * FROM ibex_core.list_orgs()`).pipe(
        Effect.map((rows) => rows.map(orgFromRow)),
        provide,
        storeOperation("OrgStore.list")
      ),
      rename: (orgId, name) =>
        withOrg(
          orgId,
          sql<OrgRow>`UPDATE ibex_core.organizations SET name = ${name} WHERE id = ${orgId} RETURNING *`
        ).pipe(
          Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), orgFromRow)),
          provide,
          storeOperation("OrgStore.rename"),
          Effect.tap((changed) =>
            Option.isSome(changed) ? PubSub.publish(hub, RevocationEvent.OrgChanged({ orgId })) : Effect.void
          )
        ),
      setRateLimit: (orgId, perMinute) =>
        withOrg(
          orgId,
          sql<OrgRow>`
            UPDATE ibex_core.organizations SET rate_limit_per_minute = ${perMinute}::integer
            WHERE id = ${orgId} RETURNING *`
        ).pipe(
          Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), orgFromRow)),
          provide,
          storeOperation("OrgStore.setRateLimit"),
          // After commit, as setStatus: the validator caches the org's limit in each principal.
          Effect.tap((changed) =>
            Option.isSome(changed) ? PubSub.publish(hub, RevocationEvent.OrgChanged({ orgId })) : Effect.void
          )
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
