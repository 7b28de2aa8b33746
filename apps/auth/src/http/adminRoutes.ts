import {
  type AdminContext,
  adminCreateAgent,
  adminCreateOrg,
  adminCreateToken,
  adminGetBudget,
  adminGetOrg,
  adminInvite,
  adminListAgents,
  adminListAssignments,
  adminListAudit,
  adminListInvitations,
  adminListOperators,
  adminListOrgs,
  adminListTokens,
  adminListUsers,
  adminPutAssignment,
  adminQueryUsage,
  adminRemoveAssignment,
  adminResetOperatorMfa,
  adminRevokeInvitation,
  adminRevokeToken,
  adminSetAgentStatus,
  adminSetBudget,
  adminSetOperatorStatus,
  adminSetPlatformAdmin,
  adminSignOutOperator,
  adminUpdateOrg
} from "@ibex/auth-core"
import {
  type AgentId,
  type AgentStatus,
  allRights,
  FieldError,
  type InvitationId,
  type OperatorId,
  type OrgId,
  orgRoles,
  Permissions,
  platformRights,
  RoleRights,
  type TokenId,
  UsageGroupBy,
  ValidationFailed
} from "@ibex/domain"
import { Effect, Either, Redacted } from "effect"
import type { Reply } from "./httpKit.js"
import {
  oneOf,
  optIntOrNull,
  optStr,
  optTime,
  orgOf,
  principalOf,
  queryTime,
  type RouteInput,
  route,
  str,
  strArray,
  UUID,
  uuidParam
} from "./routing.js"
import {
  agentJson,
  assignmentJson,
  auditJson,
  invitationJson,
  operatorJson,
  orgJson,
  tokenJson,
  userJson
} from "./wire.js"

const ctxOf = (input: RouteInput): AdminContext => ({ principal: principalOf(input), requestId: input.requestId })
const ok = (body: unknown, status = 200): Reply => ({ status, body })
const noContent: Reply = { status: 204 }
const param = (input: RouteInput, i: number, field: string) => uuidParam(input.params[i]?.toLowerCase(), field)
const limitOf = (input: RouteInput) => Number.parseInt(input.query.get("limit") ?? "50", 10) || 50

const agentVerbs: Record<string, AgentStatus> = {
  pause: "paused",
  archive: "archived",
  suspend: "suspended",
  activate: "active"
}

const permissionsOf = (names: ReadonlyArray<string>) =>
  Either.match(Permissions.fromNames(names), {
    onLeft: (message) =>
      Effect.fail(new ValidationFailed({ fieldErrors: [new FieldError({ field: "permissions", message })] })),
    onRight: Effect.succeed
  })

const platformRoutes = [
  route("GET", "/v1/admin/roles", "session", false, () =>
    Effect.succeed(
      ok({
        roles: [
          { name: "platform_admin", rights: [...allRights] },
          ...orgRoles.map((r) => ({ name: r, rights: [...RoleRights[r]] }))
        ],
        rights: [...allRights],
        platform_rights: [...platformRights]
      })
    )
  ),
  route("GET", "/v1/admin/orgs", "session", false, (input) =>
    Effect.map(adminListOrgs(ctxOf(input)), (orgs) => ok({ orgs: orgs.map(orgJson) }))
  ),
  route("POST", "/v1/admin/orgs", "session", false, (input) =>
    Effect.gen(function* () {
      const name = yield* str(input.body, "name")
      const rate = yield* optIntOrNull(input.body, "rate_limit_per_minute")
      const org = yield* adminCreateOrg(ctxOf(input), { name, rateLimitPerMinute: rate ?? null })
      return ok({ org: orgJson(org) }, 201)
    })
  ),
  route("GET", `/v1/admin/orgs/${UUID}`, "session", false, (input) =>
    Effect.gen(function* () {
      const orgId = (yield* param(input, 0, "org_id")) as OrgId
      return ok({ org: orgJson(yield* adminGetOrg(ctxOf(input), orgId)) })
    })
  ),
  route("PATCH", `/v1/admin/orgs/${UUID}`, "session", false, (input) =>
    Effect.gen(function* () {
      const orgId = (yield* param(input, 0, "org_id")) as OrgId
      const status = yield* optStr(input.body, "status")
      const org = yield* adminUpdateOrg(ctxOf(input), orgId, {
        name: yield* optStr(input.body, "name"),
        rateLimitPerMinute: yield* optIntOrNull(input.body, "rate_limit_per_minute"),
        status: status === undefined ? undefined : yield* oneOf(status, ["active", "disabled"] as const, "status")
      })
      return ok({ org: orgJson(org) })
    })
  ),
  route("GET", "/v1/admin/platform/audit", "session", false, (input) =>
    Effect.map(
      adminListAudit(ctxOf(input), null, { limit: limitOf(input), before: input.query.get("before") }),
      (page) => ok({ events: page.entries.map(auditJson), next_before: page.nextBefore })
    )
  ),
  route("GET", "/v1/admin/operators", "session", false, (input) =>
    Effect.map(adminListOperators(ctxOf(input)), (ops) => ok({ operators: ops.map(operatorJson) }))
  ),
  route("POST", `/v1/admin/operators/${UUID}/(disable|enable)`, "session", false, (input) =>
    Effect.gen(function* () {
      const id = (yield* param(input, 0, "operator_id")) as OperatorId
      const op = yield* adminSetOperatorStatus(ctxOf(input), id, input.params[1] === "disable" ? "disabled" : "active")
      return ok({ operator: operatorJson(op) })
    })
  ),
  route("POST", `/v1/admin/operators/${UUID}/signout`, "session", false, (input) =>
    Effect.gen(function* () {
      yield* adminSignOutOperator(ctxOf(input), (yield* param(input, 0, "operator_id")) as OperatorId)
      return noContent
    })
  ),
  route("POST", `/v1/admin/operators/${UUID}/mfa/reset`, "session", false, (input) =>
    Effect.gen(function* () {
      yield* adminResetOperatorMfa(ctxOf(input), (yield* param(input, 0, "operator_id")) as OperatorId)
      return noContent
    })
  ),
  route("PUT", `/v1/admin/operators/${UUID}/platform-admin`, "session", false, (input) =>
    Effect.gen(function* () {
      yield* adminSetPlatformAdmin(ctxOf(input), (yield* param(input, 0, "operator_id")) as OperatorId, true)
      return noContent
    })
  ),
  route("DELETE", `/v1/admin/operators/${UUID}/platform-admin`, "session", false, (input) =>
    Effect.gen(function* () {
      yield* adminSetPlatformAdmin(ctxOf(input), (yield* param(input, 0, "operator_id")) as OperatorId, false)
      return noContent
    })
  )
]

const orgRoutes = [
  route("GET", "/v1/admin/agents", "session", true, (input) =>
    Effect.map(adminListAgents(ctxOf(input), orgOf(input)), (agents) => ok({ agents: agents.map(agentJson) }))
  ),
  route("POST", "/v1/admin/agents", "session", true, (input) =>
    Effect.gen(function* () {
      const agent = yield* adminCreateAgent(ctxOf(input), orgOf(input), yield* str(input.body, "name"))
      return ok({ agent: agentJson(agent) }, 201)
    })
  ),
  route("POST", `/v1/admin/agents/${UUID}/(pause|archive|suspend|activate)`, "session", true, (input) =>
    Effect.gen(function* () {
      const agentId = (yield* param(input, 0, "agent_id")) as AgentId
      const status = agentVerbs[input.params[1] ?? ""] as AgentStatus
      const agent = yield* adminSetAgentStatus(ctxOf(input), orgOf(input), agentId, status)
      return ok({ agent: agentJson(agent) })
    })
  ),
  route("GET", "/v1/admin/tokens", "session", true, (input) =>
    Effect.map(
      adminListTokens(ctxOf(input), orgOf(input), { limit: limitOf(input), cursor: input.query.get("cursor") }),
      (page) => ok({ tokens: page.tokens.map(tokenJson), next_cursor: page.nextCursor })
    )
  ),
  route("POST", "/v1/admin/tokens", "session", true, (input) =>
    Effect.gen(function* () {
      const created = yield* adminCreateToken(ctxOf(input), orgOf(input), {
        name: yield* str(input.body, "name"),
        permissions: yield* permissionsOf(yield* strArray(input.body, "permissions")),
        expiresAt: yield* optTime(input.body, "expires_at")
      })
      return ok({ token: Redacted.value(created.token), info: tokenJson(created.info) }, 201)
    })
  ),
  ...(["POST", "DELETE"] as const).map((method) =>
    route(
      method,
      method === "POST" ? `/v1/admin/tokens/${UUID}/revoke` : `/v1/admin/tokens/${UUID}`,
      "session",
      true,
      (input) =>
        Effect.gen(function* () {
          const tokenId = (yield* param(input, 0, "token_id")) as TokenId
          return ok({ token: tokenJson(yield* adminRevokeToken(ctxOf(input), orgOf(input), tokenId)) })
        })
    )
  ),
  route("GET", "/v1/admin/users", "session", true, (input) =>
    Effect.map(adminListUsers(ctxOf(input), orgOf(input)), (rows) =>
      ok({ users: rows.map((r) => userJson(r.operator, r.assignment)) })
    )
  ),
  route("GET", "/v1/admin/invitations", "session", true, (input) =>
    Effect.map(adminListInvitations(ctxOf(input), orgOf(input)), (list) =>
      ok({ invitations: list.map(invitationJson) })
    )
  ),
  route("POST", "/v1/admin/invitations", "session", true, (input) =>
    Effect.gen(function* () {
      const email = yield* str(input.body, "email")
      const role = yield* oneOf(yield* str(input.body, "role"), orgRoles, "role")
      const invitation = yield* adminInvite(ctxOf(input), orgOf(input), { email, role })
      return ok({ invitation: invitationJson(invitation) }, 201)
    })
  ),
  route("DELETE", `/v1/admin/invitations/${UUID}`, "session", true, (input) =>
    Effect.gen(function* () {
      yield* adminRevokeInvitation(
        ctxOf(input),
        orgOf(input),
        (yield* param(input, 0, "invitation_id")) as InvitationId
      )
      return noContent
    })
  ),
  route("GET", "/v1/admin/assignments", "session", true, (input) =>
    Effect.map(adminListAssignments(ctxOf(input), orgOf(input)), (rows) =>
      ok({ assignments: rows.map((r) => assignmentJson(r.operator, r.assignment)) })
    )
  ),
  route("PUT", `/v1/admin/assignments/${UUID}`, "session", true, (input) =>
    Effect.gen(function* () {
      const operatorId = (yield* param(input, 0, "operator_id")) as OperatorId
      const role = yield* oneOf(yield* str(input.body, "role"), orgRoles, "role")
      const r = yield* adminPutAssignment(ctxOf(input), orgOf(input), operatorId, role)
      return ok({ assignment: assignmentJson(r.operator, r.assignment) })
    })
  ),
  route("DELETE", `/v1/admin/assignments/${UUID}`, "session", true, (input) =>
    Effect.gen(function* () {
      yield* adminRemoveAssignment(ctxOf(input), orgOf(input), (yield* param(input, 0, "operator_id")) as OperatorId)
      return noContent
    })
  ),
  route("GET", "/v1/admin/usage", "session", true, (input) =>
    Effect.gen(function* () {
      const groupBy = yield* oneOf(input.query.get("group_by") ?? "model", UsageGroupBy.literals, "group_by")
      const report = yield* adminQueryUsage(ctxOf(input), orgOf(input), {
        since: yield* queryTime(input.query, "since"),
        until: yield* queryTime(input.query, "until"),
        groupBy
      })
      return ok({
        org_id: report.orgId,
        since: report.since.toISOString(),
        until: report.until.toISOString(),
        group_by: report.groupBy,
        rows: report.rows.map((r) => ({
          key: r.key,
          requests: r.requests,
          prompt_tokens: r.promptTokens,
          completion_tokens: r.completionTokens,
          total_tokens: r.promptTokens + r.completionTokens,
          cached_tokens: r.cachedTokens,
          cost_micro_usd: r.costMicroUsd,
          estimated_requests: r.estimatedRequests
        }))
      })
    })
  ),
  route("GET", "/v1/admin/budget", "session", true, (input) =>
    Effect.map(adminGetBudget(ctxOf(input), orgOf(input)), budgetJson)
  ),
  route("PUT", "/v1/admin/budget", "session", true, (input) =>
    Effect.gen(function* () {
      const view = yield* adminSetBudget(ctxOf(input), orgOf(input), {
        tokensPerMinute: (yield* optIntOrNull(input.body, "tokens_per_minute")) ?? null,
        monthlyBudgetMicroUsd: (yield* optIntOrNull(input.body, "monthly_budget_micro_usd")) ?? null
      })
      return budgetJson(view)
    })
  ),
  route("GET", "/v1/admin/audit", "session", true, (input) =>
    Effect.map(
      adminListAudit(ctxOf(input), orgOf(input), { limit: limitOf(input), before: input.query.get("before") }),
      (page) => ok({ events: page.entries.map(auditJson), next_before: page.nextBefore })
    )
  )
]

const budgetJson = (view: {
  readonly orgId: string
  readonly limits: { readonly tokensPerMinute: number | null; readonly monthlyBudgetMicroUsd: number | null }
  readonly monthStart: Date
  readonly monthSpendMicroUsd: number
}) =>
  ok({
    org_id: view.orgId,
    tokens_per_minute: view.limits.tokensPerMinute,
    monthly_budget_micro_usd: view.limits.monthlyBudgetMicroUsd,
    month_start: view.monthStart.toISOString(),
    month_spend_micro_usd: view.monthSpendMicroUsd
  })

export const adminRoutes = [...platformRoutes, ...orgRoutes]
