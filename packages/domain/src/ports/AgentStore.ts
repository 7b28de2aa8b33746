import { Context, type Effect, type Option } from "effect"
import type { Agent, AgentStatus } from "../Agent.js"
import type { StoreUnavailable } from "../errors.js"
import type { AgentId, OrgId } from "../ids.js"

export interface AgentStoreShape {
  /** Within `orgId` only: another org's agent is None, as if it did not exist. */
  readonly find: (orgId: OrgId, agentId: AgentId) => Effect.Effect<Option.Option<Agent>, StoreUnavailable>
  readonly insert: (agent: Agent) => Effect.Effect<Agent, StoreUnavailable>
  readonly list: (orgId: OrgId) => Effect.Effect<ReadonlyArray<Agent>, StoreUnavailable>
  readonly setStatus: (
    orgId: OrgId,
    agentId: AgentId,
    status: AgentStatus
  ) => Effect.Effect<Option.Option<Agent>, StoreUnavailable>
}

export class AgentStore extends Context.Tag("@ibex/domain/AgentStore")<AgentStore, AgentStoreShape>() {}
