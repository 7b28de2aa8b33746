import { PlatformAdmin, PlatformAdminStore } from "@ibex/domain"
import { Effect, Layer, Option } from "effect"
import { storeOperation } from "./errors.js"
import { captureDatabase, withoutOrg } from "./PgClientLive.js"

interface AdminRow {
  readonly id: string
  readonly name: string
  readonly created_at: Date
  readonly revoked_at: Date | null
}

const adminFromRow = (row: AdminRow) =>
  new PlatformAdmin({
    id: row.id as PlatformAdmin["id"],
    name: row.name,
    createdAt: row.created_at,
    revokedAt: row.revoked_at
  })

/**
 * PlatformAdminStore on Postgres. The auth service (app role) only looks a credential up, through
 * the SECURITY DEFINER function find_platform_admin_credential; insert, list and revoke are the
 * database owner's (the CLI on DATABASE_URL or the embedded folder): the app role has no grant
 * on ibex_core.platform_admins.
 */
export const PlatformAdminStoreLive = Layer.effect(
  PlatformAdminStore,
  Effect.gen(function* () {
    const { sql, provide } = yield* captureDatabase
    return PlatformAdminStore.of({
      findCredential: (id) =>
        withoutOrg(
          sql<AdminRow & { secret_hash: string }>`SELECT * FROM ibex_core.find_platform_admin_credential(${id})`
        ).pipe(
          Effect.map((rows) =>
            Option.map(Option.fromNullable(rows[0]), (row) => ({
              admin: adminFromRow(row),
              secretHash: row.secret_hash
            }))
          ),
          provide,
          storeOperation("PlatformAdminStore.findCredential")
        ),
      insert: (admin) =>
        sql<AdminRow>`
          INSERT INTO ibex_core.platform_admins (id, name, secret_hash)
          VALUES (${admin.id}, ${admin.name}, ${admin.secretHash})
          RETURNING id, name, created_at, revoked_at`.pipe(
          Effect.flatMap((rows) =>
            rows[0] === undefined ? Effect.dieMessage("insert returned no row") : Effect.succeed(adminFromRow(rows[0]))
          ),
          provide,
          storeOperation("PlatformAdminStore.insert")
        ),
      list: sql<AdminRow>`
        SELECT id, name, created_at, revoked_at FROM ibex_core.platform_admins ORDER BY created_at, id`.pipe(
        Effect.map((rows) => rows.map(adminFromRow)),
        provide,
        storeOperation("PlatformAdminStore.list")
      ),
      revoke: (id, at) =>
        sql<AdminRow>`
          UPDATE ibex_core.platform_admins SET revoked_at = COALESCE(revoked_at, ${at})
          WHERE id = ${id} RETURNING id, name, created_at, revoked_at`.pipe(
          Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), adminFromRow)),
          provide,
          storeOperation("PlatformAdminStore.revoke")
        )
    })
  })
)
