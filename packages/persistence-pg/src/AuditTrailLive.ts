import { AuditTrail } from "@ibex/domain"
import { Effect, Layer } from "effect"
import { storeOperation } from "./errors.js"
import { type AuditRow, auditFromRow } from "./iamRows.js"
import { captureDatabase, withOrg, withoutOrg } from "./PgClientLive.js"

/**
 * AuditTrail on Postgres (migration 0032): appended through append_audit_event (an event may
 * have no org); an org's events read in its own context (RLS), the platform's whole trail through
 * list_audit_events. The table refuses UPDATE and DELETE to every role.
 */
export const AuditTrailLive = Layer.effect(
  AuditTrail,
  Effect.gen(function* () {
    const { sql, provide } = yield* captureDatabase
    return AuditTrail.of({
      append: (e) =>
        withoutOrg(sql<AuditRow>`
          SELECT * FROM ibex_core.append_audit_event(
            ${e.actor}, ${e.action}, ${e.target}, ${e.orgId}::uuid, ${e.requestId}, ${JSON.stringify(e.detail)}::jsonb)`).pipe(
          Effect.flatMap((rows) => (rows[0] === undefined ? Effect.dieMessage("no row") : Effect.succeed(rows[0]))),
          Effect.map(auditFromRow),
          provide,
          storeOperation("AuditTrail.append")
        ),
      list: (q) => {
        const before = q.before !== null && /^[0-9]{1,18}$/.test(q.before) ? q.before : null
        const limit = Math.min(Math.max(1, Math.floor(q.limit)), 1000)
        return (
          q.orgId === null
            ? withoutOrg(sql<AuditRow>`SELECT * FROM ibex_core.list_audit_events(NULL, ${before}::bigint, ${limit})`)
            : withOrg(
                q.orgId,
                sql<AuditRow>`
                  SELECT * FROM ibex_core.audit_events
                  WHERE org_id = ${q.orgId} AND (${before}::bigint IS NULL OR id < ${before}::bigint)
                  ORDER BY id DESC LIMIT ${limit}`
              )
        ).pipe(
          Effect.map((rows) => rows.map(auditFromRow)),
          provide,
          storeOperation("AuditTrail.list")
        )
      }
    })
  })
)
