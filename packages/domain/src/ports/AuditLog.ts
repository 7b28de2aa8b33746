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

export interface AuditLogShape {
  readonly record: (event: AuditEvent) => Effect.Effect<void>
}

export class AuditLog extends Context.Tag("@ibex/domain/AuditLog")<AuditLog, AuditLogShape>() {}
