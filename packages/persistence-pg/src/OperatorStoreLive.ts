import { normalizeEmail, OperatorStore } from "@ibex/domain"
import { Effect, Layer, Option, Redacted } from "effect"
import { storeOperation } from "./errors.js"
import { credentialsFromRow, type OperatorRow, operatorFromRow } from "./iamRows.js"
import { captureDatabase, transaction, withoutOrg } from "./PgClientLive.js"

/**
 * OperatorStore on Postgres (migration 0030): operators are no tenant's, so every statement runs
 * as the app role without org context; the tables admit only the service roles.
 */
export const OperatorStoreLive = Layer.effect(
  OperatorStore,
  Effect.gen(function* () {
    const { sql, provide } = yield* captureDatabase
    const one = (rows: ReadonlyArray<OperatorRow>) => Option.fromNullable(rows[0])
    return OperatorStore.of({
      insert: (op) =>
        withoutOrg(
          sql<OperatorRow>`
            INSERT INTO ibex_core.operators (id, email, display_name, password_hash, platform_admin)
            VALUES (${op.id}, ${op.email.trim()}, ${op.displayName}, ${op.passwordHash}, ${op.platformAdmin})
            ON CONFLICT DO NOTHING RETURNING *`
        ).pipe(
          Effect.map((rows) => Option.map(one(rows), operatorFromRow)),
          provide,
          storeOperation("OperatorStore.insert")
        ),
      find: (id) =>
        withoutOrg(sql<OperatorRow>`SELECT * FROM ibex_core.operators WHERE id = ${id}`).pipe(
          Effect.map((rows) => Option.map(one(rows), credentialsFromRow)),
          provide,
          storeOperation("OperatorStore.find")
        ),
      findByEmail: (email) =>
        withoutOrg(
          sql<OperatorRow>`SELECT * FROM ibex_core.operators WHERE lower(email) = ${normalizeEmail(email)}`
        ).pipe(
          Effect.map((rows) => Option.map(one(rows), credentialsFromRow)),
          provide,
          storeOperation("OperatorStore.findByEmail")
        ),
      list: withoutOrg(sql<OperatorRow>`SELECT * FROM ibex_core.operators ORDER BY created_at, id`).pipe(
        Effect.map((rows) => rows.map(operatorFromRow)),
        provide,
        storeOperation("OperatorStore.list")
      ),
      setPassword: (id, hash) =>
        withoutOrg(sql`UPDATE ibex_core.operators SET password_hash = ${hash} WHERE id = ${id} RETURNING id`).pipe(
          Effect.map((rows) => rows.length > 0),
          provide,
          storeOperation("OperatorStore.setPassword")
        ),
      setStatus: (id, status) =>
        withoutOrg(
          sql<OperatorRow>`UPDATE ibex_core.operators SET status = ${status} WHERE id = ${id} RETURNING *`
        ).pipe(
          Effect.map((rows) => Option.map(one(rows), operatorFromRow)),
          provide,
          storeOperation("OperatorStore.setStatus")
        ),
      setPlatformAdmin: (id, value) =>
        withoutOrg(
          sql<OperatorRow>`UPDATE ibex_core.operators SET platform_admin = ${value} WHERE id = ${id} RETURNING *`
        ).pipe(
          Effect.map((rows) => Option.map(one(rows), operatorFromRow)),
          provide,
          storeOperation("OperatorStore.setPlatformAdmin")
        ),
      setPendingTotp: (id, secret) =>
        withoutOrg(
          sql`UPDATE ibex_core.operators SET pending_totp_secret = ${Redacted.value(secret)} WHERE id = ${id} RETURNING id`
        ).pipe(
          Effect.map((rows) => rows.length > 0),
          provide,
          storeOperation("OperatorStore.setPendingTotp")
        ),
      confirmTotp: (id, digests) =>
        transaction(
          Effect.gen(function* () {
            const rows = yield* sql`
              UPDATE ibex_core.operators SET totp_secret = pending_totp_secret, pending_totp_secret = NULL
              WHERE id = ${id} AND pending_totp_secret IS NOT NULL RETURNING id`
            if (rows.length === 0) return false
            yield* sql`DELETE FROM ibex_core.operator_recovery_codes WHERE operator_id = ${id}`
            for (const digest of digests)
              yield* sql`INSERT INTO ibex_core.operator_recovery_codes (operator_id, digest) VALUES (${id}, ${digest})`
            return true
          })
        ).pipe(provide, storeOperation("OperatorStore.confirmTotp")),
      useTotpStep: (id, step) =>
        withoutOrg(sql`
          UPDATE ibex_core.operators SET totp_last_step = ${step}
          WHERE id = ${id} AND (totp_last_step IS NULL OR totp_last_step < ${step}) RETURNING id`).pipe(
          Effect.map((rows) => rows.length === 1),
          provide,
          storeOperation("OperatorStore.useTotpStep")
        ),
      clearMfa: (id) =>
        transaction(
          Effect.gen(function* () {
            const rows = yield* sql`
              UPDATE ibex_core.operators SET totp_secret = NULL, pending_totp_secret = NULL, totp_last_step = NULL
              WHERE id = ${id} RETURNING id`
            yield* sql`DELETE FROM ibex_core.operator_recovery_codes WHERE operator_id = ${id}`
            return rows.length > 0
          })
        ).pipe(provide, storeOperation("OperatorStore.clearMfa")),
      consumeRecoveryCode: (id, digest) =>
        withoutOrg(sql`
          UPDATE ibex_core.operator_recovery_codes SET used_at = now()
          WHERE operator_id = ${id} AND digest = ${digest} AND used_at IS NULL RETURNING digest`).pipe(
          Effect.map((rows) => rows.length === 1),
          provide,
          storeOperation("OperatorStore.consumeRecoveryCode")
        ),
      insertResetToken: (input) =>
        withoutOrg(sql`
          INSERT INTO ibex_core.operator_reset_tokens (digest, operator_id, expires_at)
          VALUES (${input.digest}, ${input.operatorId}, ${input.expiresAt})`).pipe(
          Effect.asVoid,
          provide,
          storeOperation("OperatorStore.insertResetToken")
        ),
      consumeResetToken: (digest, now) =>
        transaction(
          Effect.gen(function* () {
            const rows = yield* sql<{ operator_id: string }>`
              UPDATE ibex_core.operator_reset_tokens SET used_at = ${now}
              WHERE digest = ${digest} AND used_at IS NULL AND expires_at > ${now} RETURNING operator_id`
            const row = rows[0]
            if (row === undefined) return Option.none()
            // One reset spends every other outstanding link of the operator too.
            yield* sql`
              UPDATE ibex_core.operator_reset_tokens SET used_at = ${now}
              WHERE operator_id = ${row.operator_id} AND used_at IS NULL`
            return Option.some(row.operator_id as never)
          })
        ).pipe(provide, storeOperation("OperatorStore.consumeResetToken"))
    })
  })
)
