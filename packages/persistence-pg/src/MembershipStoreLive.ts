import { MembershipStore } from "@ibex/domain"
import { Effect, Layer, Option } from "effect"
import { storeOperation } from "./errors.js"
import { type AssignmentRow, assignmentFromRow, type InvitationRow, invitationFromRow } from "./iamRows.js"
import { captureDatabase, withOrg, withoutOrg } from "./PgClientLive.js"

const INVITATION_COLUMNS = "id, org_id, email, role, invited_by, created_at, expires_at"

/**
 * MembershipStore on Postgres (migration 0031): assignments and invitations are tenant rows, read
 * and written in their org's context (RLS); an operator's own assignments and spending an
 * invitation go through the two SECURITY DEFINER functions of 0031.
 */
export const MembershipStoreLive = Layer.effect(
  MembershipStore,
  Effect.gen(function* () {
    const { sql, provide } = yield* captureDatabase
    return MembershipStore.of({
      forOperator: (operatorId) =>
        withoutOrg(sql<AssignmentRow>`SELECT * FROM ibex_core.operator_assignments(${operatorId})`).pipe(
          Effect.map((rows) => rows.map(assignmentFromRow)),
          provide,
          storeOperation("MembershipStore.forOperator")
        ),
      list: (orgId) =>
        withOrg(
          orgId,
          sql<AssignmentRow>`
            SELECT org_id, operator_id, role, created_at FROM ibex_core.role_assignments
            WHERE org_id = ${orgId} ORDER BY created_at, operator_id`
        ).pipe(
          Effect.map((rows) => rows.map(assignmentFromRow)),
          provide,
          storeOperation("MembershipStore.list")
        ),
      put: (a) =>
        withOrg(
          a.orgId,
          sql<AssignmentRow>`
            INSERT INTO ibex_core.role_assignments (org_id, operator_id, role, created_at)
            VALUES (${a.orgId}, ${a.operatorId}, ${a.role}, ${a.createdAt})
            ON CONFLICT (org_id, operator_id) DO UPDATE SET role = EXCLUDED.role
            RETURNING org_id, operator_id, role, created_at`
        ).pipe(
          Effect.flatMap((rows) => (rows[0] === undefined ? Effect.dieMessage("no row") : Effect.succeed(rows[0]))),
          Effect.map(assignmentFromRow),
          provide,
          storeOperation("MembershipStore.put")
        ),
      remove: (orgId, operatorId) =>
        withOrg(
          orgId,
          sql`DELETE FROM ibex_core.role_assignments WHERE org_id = ${orgId} AND operator_id = ${operatorId} RETURNING org_id`
        ).pipe(
          Effect.map((rows) => rows.length > 0),
          provide,
          storeOperation("MembershipStore.remove")
        ),
      insertInvitation: (inv, digest) =>
        withOrg(
          inv.orgId,
          sql<InvitationRow>`
            INSERT INTO ibex_core.invitations (id, org_id, email, role, digest, invited_by, created_at, expires_at)
            VALUES (${inv.id}, ${inv.orgId}, ${inv.email}, ${inv.role}, ${digest}, ${inv.invitedBy}, ${inv.createdAt}, ${inv.expiresAt})
            RETURNING ${sql.unsafe(INVITATION_COLUMNS)}`
        ).pipe(
          Effect.flatMap((rows) => (rows[0] === undefined ? Effect.dieMessage("no row") : Effect.succeed(rows[0]))),
          Effect.map(invitationFromRow),
          provide,
          storeOperation("MembershipStore.insertInvitation")
        ),
      listInvitations: (orgId, now) =>
        withOrg(
          orgId,
          sql<InvitationRow>`
            SELECT ${sql.unsafe(INVITATION_COLUMNS)} FROM ibex_core.invitations
            WHERE org_id = ${orgId} AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ${now}
            ORDER BY created_at, id`
        ).pipe(
          Effect.map((rows) => rows.map(invitationFromRow)),
          provide,
          storeOperation("MembershipStore.listInvitations")
        ),
      revokeInvitation: (orgId, id) =>
        withOrg(
          orgId,
          sql`
            UPDATE ibex_core.invitations SET revoked_at = now()
            WHERE id = ${id} AND org_id = ${orgId} AND used_at IS NULL AND revoked_at IS NULL RETURNING id`
        ).pipe(
          Effect.map((rows) => rows.length > 0),
          provide,
          storeOperation("MembershipStore.revokeInvitation")
        ),
      consumeInvitation: (digest, now) =>
        withoutOrg(sql<InvitationRow>`SELECT * FROM ibex_core.consume_invitation(${digest}, ${now})`).pipe(
          Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), invitationFromRow)),
          provide,
          storeOperation("MembershipStore.consumeInvitation")
        )
    })
  })
)
