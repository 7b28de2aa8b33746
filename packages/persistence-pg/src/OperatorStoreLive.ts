import type { SqlClient } from "@effect/sql"
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
    const operatorOf = (rows: ReadonlyArray<OperatorRow>) => Option.map(one(rows), operatorFromRow)
    const credentialsOf = (rows: ReadonlyArray<OperatorRow>) => Option.map(one(rows), credentialsFromRow)
    const changedAny = (rows: ReadonlyArray<unknown>) => rows.length > 0
    const changedOne = (rows: ReadonlyArray<unknown>) => rows.length === 1
    /** One statement as the app role, without org context, its failures as StoreUnavailable. */
    const run = <A, E>(operation: string, statement: Effect.Effect<A, E, SqlClient.SqlClient>) =>
      withoutOrg(statement).pipe(provide, storeOperation(`OperatorStore.${operation}`))
    return OperatorStore.of({
      insert: (op) =>
        run(
          "insert",
          sql<OperatorRow>`
            INSERT INTO ibex_core.operators (id, email, display_name, password_hash, platform_admin)
            VALUES (${op.id}, ${op.email.trim()}, ${op.displayName}, ${op.passwordHash}, ${op.platformAdmin})
            ON CONFLICT DO NOTHING RETURNING *`
        ).pipe(Effect.map(operatorOf)),
      find: (id) =>
        run("find", sql<OperatorRow>`SELECT * FROM ibex_core.operators WHERE id = ${id}`).pipe(
          Effect.map(credentialsOf)
        ),
      findByEmail: (email) =>
        run(
          "findByEmail",
          sql<OperatorRow>`SELECT * FROM ibex_core.operators WHERE lower(email) = ${normalizeEmail(email)}`
        ).pipe(Effect.map(credentialsOf)),
      list: run("list", sql<OperatorRow>`SELECT * FROM ibex_core.operators ORDER BY created_at, id`).pipe(
        Effect.map((rows) => rows.map(operatorFromRow))
      ),
      setPassword: (id, hash) =>
        run(
          "setPassword",
          sql`UPDATE ibex_core.operators SET password_hash = ${hash} WHERE id = ${id} RETURNING id`
        ).pipe(Effect.map(changedAny)),
      setStatus: (id, status) =>
        run(
          "setStatus",
          sql<OperatorRow>`UPDATE ibex_core.operators SET status = ${status} WHERE id = ${id} RETURNING *`
        ).pipe(Effect.map(operatorOf)),
      setPlatformAdmin: (id, value) =>
        run(
          "setPlatformAdmin",
          sql<OperatorRow>`UPDATE ibex_core.operators SET platform_admin = ${value} WHERE id = ${id} RETURNING *`
        ).pipe(Effect.map(operatorOf)),
      setPendingTotp: (id, secret) =>
        run(
          "setPendingTotp",
          sql`UPDATE ibex_core.operators SET pending_totp_secret = ${Redacted.value(secret)} WHERE id = ${id} RETURNING id`
        ).pipe(Effect.map(changedAny)),
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
        run(
          "useTotpStep",
          sql`
          UPDATE ibex_core.operators SET totp_last_step = ${step}
          WHERE id = ${id} AND (totp_last_step IS NULL OR totp_last_step < ${step}) RETURNING id`
        ).pipe(Effect.map(changedOne)),
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
        run(
          "consumeRecoveryCode",
          sql`
          UPDATE ibex_core.operator_recovery_codes SET used_at = now()
          WHERE operator_id = ${id} AND digest = ${digest} AND used_at IS NULL RETURNING digest`
        ).pipe(Effect.map(changedOne)),
      insertResetToken: (input) =>
        run(
          "insertResetToken",
          sql`
          INSERT INTO ibex_core.operator_reset_tokens (digest, operator_id, expires_at)
          VALUES (${input.digest}, ${input.operatorId}, ${input.expiresAt})`
        ).pipe(Effect.asVoid),
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
