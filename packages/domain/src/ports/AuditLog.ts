import { Context, type Effect } from "effect"
import type { OrgId, TokenId } from "../ids.js"

/** Audit events carry ids and display prefixes only: never a token, a secret or a hash. */
export type AuditEvent =
  | {
      readonly type: "token_created"
      readonly orgId: OrgId
      readonly actorTokenId: TokenId | null
      readonly tokenId: TokenId
      readonly displayPrefix: string
      readonly permissions: ReadonlyArray<string>
    }
  | {
      readonly type: "token_revoked"
      readonly orgId: OrgId
      readonly actorTokenId: TokenId | null
      readonly tokenId: TokenId
      readonly displayPrefix: string
    }
  | {
      readonly type: "management_refused"
      readonly orgId: OrgId | null
      readonly actorTokenId: TokenId | null
      readonly operation: string
      readonly reason: string
    }
  | {
      /** A platform admin's (or the database owner's) operation on an org, its tokens or agents. */
      readonly type: "platform_action"
      /** `platform_admin:<credential id>` or `database_owner:<os user>` (PlatformAdmin.actorLabel). */
      readonly actor: string
      readonly operation: string
      readonly orgId: OrgId | null
      /** The token, agent or credential acted on, when there is one (an id, never a secret). */
      readonly targetId: string | null
    }
  | {
      /** A tenant changed its own org's metering limits (SetOrgLimits with `budget:manage`). */
      readonly type: "org_limits_set"
      readonly orgId: OrgId
      readonly actorTokenId: TokenId
      /** The limits now in force (null: none). */
      readonly tokensPerMinute: number | null
      readonly monthlyBudgetMicroUsd: number | null
    }

export interface AuditLogShape {
  readonly record: (event: AuditEvent) => Effect.Effect<void>
}

export class AuditLog extends Context.Tag("@ibex/domain/AuditLog")<AuditLog, AuditLogShape>() {}
