import { type AuditEvent, AuditLog } from "@ibex/domain"
import { Effect, Layer } from "effect"

/**
 * The audit record as it is logged: snake_case keys, ids and display prefixes only. The
 * AuditEvent type already carries nothing secret; this function is the one place that decides
 * which of its fields reach the log.
 */
export const auditRecord = (event: AuditEvent): Record<string, unknown> => {
  switch (event.type) {
    case "token_created":
      return {
        audit: event.type,
        org_id: event.orgId,
        actor_token_id: event.actorTokenId,
        token_id: event.tokenId,
        display_prefix: event.displayPrefix,
        permissions: event.permissions
      }
    case "token_revoked":
      return {
        audit: event.type,
        org_id: event.orgId,
        actor_token_id: event.actorTokenId,
        token_id: event.tokenId,
        display_prefix: event.displayPrefix
      }
    case "management_refused":
      return {
        audit: event.type,
        org_id: event.orgId,
        actor_token_id: event.actorTokenId,
        operation: event.operation,
        reason: event.reason
      }
    case "platform_action":
      return {
        audit: event.type,
        actor: event.actor,
        operation: event.operation,
        org_id: event.orgId,
        target_id: event.targetId
      }
    case "org_limits_set":
      return {
        audit: event.type,
        org_id: event.orgId,
        actor_token_id: event.actorTokenId,
        tokens_per_minute: event.tokensPerMinute,
        monthly_budget_micro_usd: event.monthlyBudgetMicroUsd
      }
  }
}

/**
 * AuditLog as structured log lines: each event is one INFO log whose message is the audit
 * record object (`{"audit":"token_created","org_id":…,"token_id":…,"display_prefix":…}`).
 * The app's JSON logger renders it as one JSON line.
 */
export const AuditLogJson: Layer.Layer<AuditLog> = Layer.succeed(
  AuditLog,
  AuditLog.of({ record: (event) => Effect.logInfo(auditRecord(event)) })
)
