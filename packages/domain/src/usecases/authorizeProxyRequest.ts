import { Effect, Option, type Redacted } from "effect"
import {
  type AgentNotAuthorized,
  type AgentSuspended,
  type AuthUnavailable,
  InsufficientPermissions,
  InvalidAgentId,
  type InvalidToken,
  MissingAgentId,
  MissingToken,
  OrgAccessDenied,
  RateLimited,
  type ServiceDegraded
} from "../errors.js"
import { type AgentId, isCanonicalUuid, type OrgId } from "../ids.js"
import * as Permissions from "../Permissions.js"
import { AuthGateway } from "../ports/AuthGateway.js"
import { RateLimiter } from "../ports/RateLimiter.js"
import { perMinute, type RateLimitDecision } from "../RateLimit.js"
import { type ProtectedRoute, RoutePermissions } from "../Routes.js"
import type { Principal } from "../Token.js"

export interface ProxyRequestCredentials {
  /** The bearer token, if the request carried a non-empty one. */
  readonly token: Option.Option<Redacted.Redacted<string>>
  /** The raw X-IBEX-Agent-ID value, if present. */
  readonly agentId: Option.Option<string>
  readonly route: ProtectedRoute
  /** The org named in the path, for org-scoped routes. */
  readonly pathOrgId: Option.Option<string>
  readonly defaultRateLimitPerMinute: number
}

export interface AuthorizedRequest {
  readonly principal: Principal
  readonly agentId: AgentId
  /** None when the limiter failed open: no invented numbers in the headers. */
  readonly rateLimit: Option.Option<RateLimitDecision>
}

export type AuthorizationError =
  | MissingToken
  | InvalidToken
  | ServiceDegraded
  | MissingAgentId
  | InvalidAgentId
  | AgentNotAuthorized
  | AgentSuspended
  | AuthUnavailable
  | InsufficientPermissions
  | OrgAccessDenied
  | RateLimited

/**
 * The proxy's chain for a protected route: token → agent → permission → org scope → rate limit.
 * Auth failures fail closed; a limiter failure fails open (ADR-0015).
 */
export const authorizeProxyRequest = (
  request: ProxyRequestCredentials
): Effect.Effect<AuthorizedRequest, AuthorizationError, AuthGateway | RateLimiter> =>
  Effect.gen(function* () {
    if (Option.isNone(request.token)) return yield* new MissingToken()
    const auth = yield* AuthGateway
    const principal = yield* auth.validateToken(request.token.value)

    if (Option.isNone(request.agentId) || request.agentId.value.trim() === "") return yield* new MissingAgentId()
    const rawAgent = request.agentId.value.trim().toLowerCase()
    if (!isCanonicalUuid(rawAgent)) return yield* new InvalidAgentId()
    const agentId = rawAgent as AgentId
    yield* auth.verifyAgent(principal.orgId, agentId)

    const required = RoutePermissions[request.route]
    if (!Permissions.has(principal.permissions, required))
      return yield* new InsufficientPermissions({ required: [required] })

    if (Option.isSome(request.pathOrgId) && request.pathOrgId.value.toLowerCase() !== (principal.orgId as OrgId))
      return yield* new OrgAccessDenied()

    const limiter = yield* RateLimiter
    const limit = principal.rateLimitPerMinute ?? request.defaultRateLimitPerMinute
    const decision = yield* limiter.consume(principal.orgId, perMinute(limit)).pipe(
      Effect.map(Option.some),
      Effect.catchTag("RateLimiterUnavailable", () => Effect.succeed(Option.none<RateLimitDecision>()))
    )
    if (Option.isSome(decision) && !decision.value.allowed) {
      return yield* new RateLimited({
        limit: decision.value.limit,
        resetAtMs: decision.value.resetAtMs,
        retryAfterMs: decision.value.retryAfterMs
      })
    }
    return { principal, agentId, rateLimit: decision }
  }).pipe(Effect.withSpan("Proxy.authorize"))
