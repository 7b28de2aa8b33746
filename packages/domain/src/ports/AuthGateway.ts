import { Context, Data, Effect, Option, type Redacted, Stream } from "effect"

import type {
  AgentNotAuthorized,
  AgentSuspended,
  AuthFailuresThrottled,
  AuthUnavailable,
  InvalidToken,
  ServiceDegraded
} from "../errors.js"
import type { AgentId, OrgId, TokenId } from "../ids.js"
import type { Principal } from "../Token.js"

/** What auth decided about the agent a request names, for the token's org. */
export type AgentVerdict = Data.TaggedEnum<{
  Authorized: {}
  /** Unknown, or of another org: indistinguishable on purpose. */
  NotAuthorized: {}
  Suspended: { readonly status: "paused" | "archived" | "suspended" }
  /** Auth knew the token but could not read the agent: fail closed (503), never cached. */
  Unavailable: {}
}>
export const AgentVerdict = Data.taggedEnum<AgentVerdict>()

/** One round trip's answer: the token's principal and, when an agent was named, its verdict. */
export interface Authorization {
  readonly principal: Principal
  readonly agent: Option.Option<AgentVerdict>
}

/**
 * What auth pushes to every proxy so cached verdicts never outlive a change: each kind names
 * what to drop. `Heartbeat` says auth is alive and its own change feed is trusted; `Reset` says
 * auth lost (or regained) its feed, so every cached verdict must go and nothing is trusted until
 * the next heartbeat. A subscription begins with a heartbeat when auth's feed is trusted.
 */
export type AuthInvalidation = Data.TaggedEnum<{
  Heartbeat: {}
  TokenRevoked: { readonly tokenId: TokenId }
  TokenChanged: { readonly tokenId: TokenId }
  AgentChanged: { readonly agentId: AgentId }
  OrgChanged: { readonly orgId: OrgId }
  Reset: {}
}>
export const AuthInvalidation = Data.taggedEnum<AuthInvalidation>()

/** How one `authorize` call may differ from the gateway's defaults. */
export interface AuthorizeOptions {
  /**
   * How long this caller waits for auth's answer (the gateway's own deadline when absent): a
   * background refresh that no client waits on can afford longer than a client's budget.
   */
  readonly deadlineMs?: number
}

/** What the proxy needs from the auth service. Fail closed: unreachable auth is an error, never a pass. */
export interface AuthGatewayShape {
  readonly validateToken: (token: Redacted.Redacted<string>) => Effect.Effect<Principal, InvalidToken | ServiceDegraded>
  readonly verifyAgent: (
    orgId: OrgId,
    agentId: AgentId
  ) => Effect.Effect<void, AgentNotAuthorized | AgentSuspended | AuthUnavailable>
  /**
   * The token and (when given) the agent in one call: the proxy's only call on a cache miss.
   * `AuthFailuresThrottled`: a gateway that limits failed authentications per client refused
   * to ask (the proxy's cache does; auth itself never answers it).
   */
  readonly authorize: (
    token: Redacted.Redacted<string>,
    agentId: Option.Option<AgentId>,
    options?: AuthorizeOptions
  ) => Effect.Effect<Authorization, InvalidToken | ServiceDegraded | AuthFailuresThrottled>
  /** Invalidations and heartbeats as auth pushes them; fails (or ends) when the stream is lost. */
  readonly invalidations: Stream.Stream<AuthInvalidation, AuthUnavailable>
  /**
   * The answer `authorize` would give at once from what this gateway holds (a cache in front of
   * auth), or `undefined` when it would have to ask. Only an acceptance is held: a refusal, a
   * miss or a stale cache is `undefined`, and `authorize` decides it. Lets a warm request be
   * decided without a fiber; a gateway without local answers leaves it out.
   */
  readonly peek?: (token: Redacted.Redacted<string>, agentId: Option.Option<AgentId>) => Authorization | undefined
}

export class AuthGateway extends Context.Tag("@ibex/domain/AuthGateway")<AuthGateway, AuthGatewayShape>() {}

/**
 * A whole AuthGateway from the two single-purpose checks: `authorize` runs them in sequence and
 * turns the agent's refusals into verdicts. For in-process gateways (tests, benches, fakes) whose
 * calls cost nothing; a remote gateway implements `authorize` as one round trip instead. Without
 * `invalidations` the stream never says anything, so a cache in front of it is never trusted.
 */
export const authGatewayFromChecks = (checks: {
  readonly validateToken: AuthGatewayShape["validateToken"]
  readonly verifyAgent: AuthGatewayShape["verifyAgent"]
  readonly invalidations?: AuthGatewayShape["invalidations"]
}): AuthGatewayShape => ({
  validateToken: checks.validateToken,
  verifyAgent: checks.verifyAgent,
  invalidations: checks.invalidations ?? Stream.never,
  authorize: (token, agentId) =>
    Effect.flatMap(checks.validateToken(token), (principal) =>
      Option.isNone(agentId)
        ? Effect.succeed<Authorization>({ principal, agent: Option.none() })
        : checks.verifyAgent(principal.orgId, agentId.value).pipe(
            Effect.as<AgentVerdict>(AgentVerdict.Authorized()),
            Effect.catchTags({
              AgentNotAuthorized: () => Effect.succeed(AgentVerdict.NotAuthorized()),
              AgentSuspended: (e) => Effect.succeed(AgentVerdict.Suspended({ status: e.status })),
              AuthUnavailable: () => Effect.succeed(AgentVerdict.Unavailable())
            }),
            Effect.map((verdict): Authorization => ({ principal, agent: Option.some(verdict) }))
          )
    )
})
