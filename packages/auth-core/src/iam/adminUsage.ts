import type { OrgId, UsageGroupBy } from "@ibex/domain"
import { Effect } from "effect"
import { getOrgLimits, type OrgLimitsInput, queryUsage, setOrgLimits } from "../usage.js"
import { type AdminContext, actorOf, audit, requireRight } from "./authorization.js"

export const adminQueryUsage = (
  ctx: AdminContext,
  orgId: OrgId,
  input: { readonly since: Date | null; readonly until: Date | null; readonly groupBy: UsageGroupBy }
) =>
  requireRight(ctx, orgId, "usage:read").pipe(
    Effect.zipRight(queryUsage(actorOf(ctx), orgId, input)),
    Effect.withSpan("AdminUsage.query")
  )

export const adminGetBudget = (ctx: AdminContext, orgId: OrgId) =>
  requireRight(ctx, orgId, "budget:read").pipe(
    Effect.zipRight(getOrgLimits(actorOf(ctx), orgId)),
    Effect.withSpan("AdminUsage.getBudget")
  )

export const adminSetBudget = (ctx: AdminContext, orgId: OrgId, input: OrgLimitsInput) =>
  Effect.gen(function* () {
    yield* requireRight(ctx, orgId, "budget:write")
    const view = yield* setOrgLimits(actorOf(ctx), orgId, input)
    yield* audit(ctx, "budget.set", orgId, orgId, {
      tokens_per_minute: input.tokensPerMinute,
      monthly_budget_micro_usd: input.monthlyBudgetMicroUsd
    })
    return view
  }).pipe(Effect.withSpan("AdminUsage.setBudget"))
