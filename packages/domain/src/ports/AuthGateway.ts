import { Context, type Effect, type Redacted } from "effect"
import type { AgentNotAuthorized, AgentSuspended, AuthUnavailable, InvalidToken, ServiceDegraded } from "../errors.js"
import type { AgentId, OrgId } from "../ids.js"
import type { Principal } from "../Token.js"

/** What the proxy needs from the auth service. Fail closed: unreachable auth is an error, never a pass. */
export interface AuthGatewayShape {
  readonly validateToken: (token: Redacted.Redacted<string>) => Effect.Effect<Principal, InvalidToken | ServiceDegraded>
  readonly verifyAgent: (
    orgId: OrgId,
    agentId: AgentId
  ) => Effect.Effect<void, AgentNotAuthorized | AgentSuspended | AuthUnavailable>
}

export class AuthGateway extends Context.Tag("@ibex/domain/AuthGateway")<AuthGateway, AuthGatewayShape>() {}
