import type { AgentId, AgentStatus, OrgId } from "@ibex/domain"
import { Effect } from "effect"
import { createOrgAgent, listOrgAgents, setOrgAgentStatus } from "../platformAdmin.js"
import { type AdminContext, actorOf, audit, requireRight } from "./authorization.js"

export const adminListAgents = (ctx: AdminContext, orgId: OrgId) =>
  requireRight(ctx, orgId, "agents:read").pipe(
    Effect.zipRight(listOrgAgents(actorOf(ctx), orgId)),
    Effect.withSpan("AdminAgents.list")
  )

export const adminCreateAgent = (ctx: AdminContext, orgId: OrgId, name: string) =>
  Effect.gen(function* () {
    yield* requireRight(ctx, orgId, "agents:write")
    const agent = yield* createOrgAgent(actorOf(ctx), orgId, name)
    yield* audit(ctx, "agent.create", orgId, agent.id, { name: agent.name })
    return agent
  }).pipe(Effect.withSpan("AdminAgents.create"))

const verbs: { readonly [S in AgentStatus]: string } = {
  active: "agent.activate",
  paused: "agent.pause",
  archived: "agent.archive",
  suspended: "agent.suspend"
}

/** Through the AgentStore, whose change is announced to every cache (auth's and the proxies'). */
export const adminSetAgentStatus = (ctx: AdminContext, orgId: OrgId, agentId: AgentId, status: AgentStatus) =>
  Effect.gen(function* () {
    yield* requireRight(ctx, orgId, "agents:write")
    const agent = yield* setOrgAgentStatus(actorOf(ctx), orgId, agentId, status)
    yield* audit(ctx, verbs[status], orgId, agentId, { status })
    return agent
  }).pipe(Effect.withSpan("AdminAgents.setStatus"))
