import {
  ActionDenied,
  AuditTrail,
  authorize,
  OrgAccessDenied,
  type OrgId,
  type PlatformActor,
  type Right
} from "@ibex/domain"
import { Effect } from "effect"
import type { OperatorPrincipal } from "./principal.js"

/** One admin request: who asks (read fresh for this request) and its request id (audited). */
export interface AdminContext {
  readonly principal: OperatorPrincipal
  readonly requestId: string
}

export const actorOf = (ctx: AdminContext): PlatformActor => ({
  kind: "operator",
  operatorId: ctx.principal.operator.id
})
export const actorLabelOf = (ctx: AdminContext) => `operator:${ctx.principal.operator.id}`

/**
 * The gate of every admin operation: `authorize` (domain, pure) on the principal as read for this
 * request. No role in the org: OrgAccessDenied (the org's existence is not revealed); a role
 * without the right, or a platform right: ActionDenied.
 */
export const requireRight = (
  ctx: AdminContext,
  org: OrgId | null,
  right: Right
): Effect.Effect<void, OrgAccessDenied | ActionDenied> => {
  const decision = authorize(ctx.principal.authz, org, right)
  if (decision.allow) return Effect.void
  return Effect.logDebug({
    event: "admin_denied",
    operator_id: ctx.principal.operator.id,
    org_id: org,
    action: right,
    reason: decision.reason
  }).pipe(
    Effect.zipRight(
      decision.reason === "not_a_member"
        ? Effect.fail<OrgAccessDenied | ActionDenied>(new OrgAccessDenied())
        : Effect.fail(new ActionDenied({ action: right, reason: decision.reason }))
    )
  )
}

/** Appends the mutation to the durable, append-only audit trail. */
export const audit = (
  ctx: AdminContext,
  action: string,
  orgId: OrgId | null,
  target: string | null,
  detail: Readonly<Record<string, string | number | boolean | null>> = {}
) =>
  Effect.flatMap(AuditTrail, (trail) =>
    trail.append({ actor: actorLabelOf(ctx), action, target, orgId, requestId: ctx.requestId, detail })
  )
