import { type OperatorId, type SessionFamilyId, SessionStore } from "@ibex/domain"
import { Effect, Layer, Option } from "effect"
import { storeOperation } from "./errors.js"
import { captureDatabase, transaction, withoutOrg } from "./PgClientLive.js"

/**
 * SessionStore on Postgres (migration 0030). Rotation is one conditional UPDATE (`used_at IS
 * NULL`, the family not revoked): under READ COMMITTED a concurrent second UPDATE of the same row
 * waits for the first to commit, re-checks the condition and matches nothing, so exactly one
 * caller rotates. A spent token presented again revokes its family, unless it was spent within the
 * grace (the loser of a concurrent refresh: refused, the winner's session kept).
 */
export const SessionStoreLive = Layer.effect(
  SessionStore,
  Effect.gen(function* () {
    const { sql, provide } = yield* captureDatabase
    return SessionStore.of({
      create: (input) =>
        transaction(
          Effect.gen(function* () {
            yield* sql`
              INSERT INTO ibex_core.operator_sessions (family_id, operator_id, expires_at)
              VALUES (${input.familyId}, ${input.operatorId}, ${input.expiresAt})`
            yield* sql`
              INSERT INTO ibex_core.operator_refresh_tokens (digest, family_id, expires_at)
              VALUES (${input.tokenDigest}, ${input.familyId}, ${input.expiresAt})`
          })
        ).pipe(provide, storeOperation("SessionStore.create")),
      rotate: (input) =>
        transaction(
          Effect.gen(function* () {
            const spent = yield* sql<{ family_id: string; operator_id: string }>`
              UPDATE ibex_core.operator_refresh_tokens t SET used_at = ${input.now}
              FROM ibex_core.operator_sessions s
              WHERE t.digest = ${input.digest} AND t.used_at IS NULL AND t.expires_at > ${input.now}
                AND s.family_id = t.family_id AND s.revoked_at IS NULL
              RETURNING t.family_id, s.operator_id`
            const row = spent[0]
            if (row !== undefined) {
              yield* sql`
                INSERT INTO ibex_core.operator_refresh_tokens (digest, family_id, expires_at)
                VALUES (${input.nextDigest}, ${row.family_id}, ${input.expiresAt})`
              yield* sql`
                UPDATE ibex_core.operator_sessions SET expires_at = ${input.expiresAt} WHERE family_id = ${row.family_id}`
              return {
                _tag: "Rotated",
                familyId: row.family_id as SessionFamilyId,
                operatorId: row.operator_id as OperatorId
              } as const
            }
            const known = yield* sql<{ family_id: string; used_at: Date | null }>`
              SELECT family_id, used_at FROM ibex_core.operator_refresh_tokens WHERE digest = ${input.digest}`
            const k = known[0]
            if (k !== undefined && k.used_at !== null && k.used_at.getTime() > input.now.getTime() - input.reuseGraceMs)
              return { _tag: "Raced" } as const
            if (k !== undefined && k.used_at !== null) {
              yield* sql`
                UPDATE ibex_core.operator_sessions SET revoked_at = ${input.now}
                WHERE family_id = ${k.family_id} AND revoked_at IS NULL`
              return { _tag: "Reused", familyId: k.family_id as SessionFamilyId } as const
            }
            return { _tag: "Invalid" } as const
          })
        ).pipe(provide, storeOperation("SessionStore.rotate")),
      active: (familyId, now) =>
        withoutOrg(sql<{ operator_id: string }>`
          SELECT operator_id FROM ibex_core.operator_sessions
          WHERE family_id = ${familyId} AND revoked_at IS NULL AND expires_at > ${now}`).pipe(
          Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), (r) => r.operator_id as OperatorId)),
          provide,
          storeOperation("SessionStore.active")
        ),
      revokeFamily: (familyId) =>
        withoutOrg(sql`
          UPDATE ibex_core.operator_sessions SET revoked_at = now()
          WHERE family_id = ${familyId} AND revoked_at IS NULL`).pipe(
          Effect.asVoid,
          provide,
          storeOperation("SessionStore.revokeFamily")
        ),
      revokeAll: (operatorId) =>
        withoutOrg(sql`
          UPDATE ibex_core.operator_sessions SET revoked_at = now()
          WHERE operator_id = ${operatorId} AND revoked_at IS NULL`).pipe(
          Effect.asVoid,
          provide,
          storeOperation("SessionStore.revokeAll")
        )
    })
  })
)
