import { Effect, Schema } from "effect"
import { AgentNotAuthorized, AgentSuspended } from "./errors.js"
import { AgentId, OrgId } from "./ids.js"

export const AgentStatus = Schema.Literal("active", "paused", "archived", "suspended")
export type AgentStatus = typeof AgentStatus.Type
export const agentStatuses: ReadonlyArray<AgentStatus> = AgentStatus.literals

export class Agent extends Schema.Class<Agent>("Agent")({
  id: AgentId,
  orgId: OrgId,
  name: Schema.String,
  status: AgentStatus,
  createdAt: Schema.DateFromSelf
}) {}

/**
 * The verification rule: the agent must exist in the token's org and be active. An agent of
 * another org is reported exactly like one that does not exist (AGENT_NOT_AUTHORIZED), so a
 * caller learns nothing about other tenants.
 */
export const checkAgent = (
  orgId: OrgId,
  agent: Agent | undefined
): Effect.Effect<Agent, AgentNotAuthorized | AgentSuspended> => {
  if (agent === undefined || agent.orgId !== orgId) return Effect.fail(new AgentNotAuthorized())
  if (agent.status !== "active") return Effect.fail(new AgentSuspended({ status: agent.status }))
  return Effect.succeed(agent)
}
