import {
  type Agent,
  type AgentId,
  type AgentNotAuthorized,
  AgentStore,
  type AgentSuspended,
  checkAgent,
  type OrgId,
  type StoreUnavailable
} from "@ibex/domain"
import { Effect, Option } from "effect"

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
