import { Effect, Option, type Redacted } from "effect"
import {
  AgentNotAuthorized,
  AgentSuspended,
  type AuthFailuresThrottled,
  AuthUnavailable,
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
import { AgentVerdict, AuthGateway } from "../ports/AuthGateway.js"
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
  | AuthFailuresThrottled
  | MissingAgentId
  | InvalidAgentId
  | AgentNotAuthorized
  | AgentSuspended
  | AuthUnavailable
  | InsufficientPermissions
  | OrgAccessDenied
  | RateLimited

/** The agent header as the request gave it: absent, not a UUID, or a canonical id. */
const parseAgentHeader = (raw: Option.Option<string>): "missing" | "invalid" | AgentId => {
  if (Option.isNone(raw)) return "missing"
  const trimmed = raw.value.trim()
  if (trimmed === "") return "missing"
  const lower = trimmed.toLowerCase()
  return isCanonicalUuid(lower) ? (lower as AgentId) : "invalid"
}

const refuseAgent = (
  verdict: AgentVerdict
): Effect.Effect<void, AgentNotAuthorized | AgentSuspended | AuthUnavailable> => {
  switch (verdict._tag) {
    case "Authorized":
      return Effect.void
    case "NotAuthorized":
      return Effect.fail(new AgentNotAuthorized())
    case "Suspended":
      return Effect.fail(new AgentSuspended({ status: verdict.status }))
    case "Unavailable":
      return Effect.fail(new AuthUnavailable())
  }
}

/**
 * The proxy's chain for a protected route: token → agent → permission → org scope → rate limit.
 * The token and the agent are decided by one `authorize` call (answered from the proxy's cache
 * when warm); the token's verdict still comes first, so a bad token is a 401 whatever the agent
 * header says. Auth failures fail closed; a limiter failure fails open (ADR-0015).
 */
export const authorizeProxyRequest = (
  request: ProxyRequestCredentials
): Effect.Effect<AuthorizedRequest, AuthorizationError, AuthGateway | RateLimiter> =>
  Effect.gen(function* () {
    if (Option.isNone(request.token)) return yield* new MissingToken()
    const auth = yield* AuthGateway
    const agent = parseAgentHeader(request.agentId)
    const agentOption = agent === "missing" || agent === "invalid" ? Option.none<AgentId>() : Option.some(agent)
    const { principal, agent: verdict } = yield* auth.authorize(request.token.value, agentOption)

    if (agent === "missing") return yield* new MissingAgentId()
    if (agent === "invalid") return yield* new InvalidAgentId()
    yield* refuseAgent(Option.getOrElse(verdict, () => AgentVerdict.Unavailable()))
    const agentId = agent

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
  }).pipe(Effect.withSpan("Proxy.authorize", { captureStackTrace: false }))
