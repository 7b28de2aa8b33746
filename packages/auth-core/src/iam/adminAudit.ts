import { AuditTrail, type OrgId } from "@ibex/domain"
import { Effect } from "effect"
import { type AdminContext, requireRight } from "./authorization.js"

const clampLimit = (limit: number) => Math.min(Math.max(1, Math.floor(limit || 50)), 200)

/** One org's audit entries (newest first); `orgId` null: the platform's whole trail. */
export const adminListAudit = (
  ctx: AdminContext,
  orgId: OrgId | null,
  page: { readonly limit: number; readonly before: string | null }
) =>
  Effect.gen(function* () {
    yield* orgId === null ? requireRight(ctx, null, "platform:audit") : requireRight(ctx, orgId, "audit:read")
    const limit = clampLimit(page.limit)
    const entries = yield* (yield* AuditTrail).list({ orgId, limit: limit + 1, before: page.before })
    const more = entries.length > limit
    const shown = more ? entries.slice(0, limit) : entries
    return { entries: shown, nextBefore: more ? (shown[shown.length - 1]?.id ?? null) : null }
  }).pipe(Effect.withSpan("AdminAudit.list"))
