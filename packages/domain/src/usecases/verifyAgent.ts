import { Effect, Option } from "effect"
import { type Agent, checkAgent } from "../Agent.js"
import type { AgentNotAuthorized, AgentSuspended, StoreUnavailable } from "../errors.js"
import type { AgentId, OrgId } from "../ids.js"
import { AgentStore } from "../ports/AgentStore.js"

/** The agent must exist in the token's org and be active (ADR-0016). */
export const verifyAgent = (
  orgId: OrgId,
  agentId: AgentId
): Effect.Effect<Agent, AgentNotAuthorized | AgentSuspended | StoreUnavailable, AgentStore> =>
  Effect.gen(function* () {
    const agents = yield* AgentStore
    const agent = yield* agents.find(orgId, agentId)
    return yield* checkAgent(orgId, Option.getOrUndefined(agent))
  }).pipe(Effect.withSpan("AuthService.verifyAgent"))
