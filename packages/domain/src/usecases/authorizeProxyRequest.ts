import { Effect, Either, Option, type Redacted } from "effect"
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
import { AgentVerdict, AuthGateway, type Authorization } from "../ports/AuthGateway.js"
import { RateLimiter } from "../ports/RateLimiter.js"
import { perMinute, type RateLimitDecision, type RateLimitPolicy } from "../RateLimit.js"
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
export const parseAgentHeader = (raw: Option.Option<string>): "missing" | "invalid" | AgentId => {
  if (Option.isNone(raw)) return "missing"
  const trimmed = raw.value.trim()
  if (trimmed === "") return "missing"
  const lower = trimmed.toLowerCase()
  return isCanonicalUuid(lower) ? (lower as AgentId) : "invalid"
}

const refuseAgent = (verdict: AgentVerdict): AgentNotAuthorized | AgentSuspended | AuthUnavailable | undefined => {
  switch (verdict._tag) {
    case "Authorized":
      return undefined
    case "NotAuthorized":
      return new AgentNotAuthorized()
    case "Suspended":
      return new AgentSuspended({ status: verdict.status })
    case "Unavailable":
      return new AuthUnavailable()
  }
}

/** A request auth accepted, waiting for the limiter: whose it is and the policy it is counted under. */
export interface Admission {
  readonly principal: Principal
  readonly agentId: AgentId
  readonly policy: RateLimitPolicy
}

export type AdmissionError = Exclude<
  AuthorizationError,
  MissingToken | InvalidToken | ServiceDegraded | AuthFailuresThrottled | RateLimited
>

/**
 * The chain's decisions between auth's answer and the limiter (agent → permission → org scope),
 * pure, so a request answered from the proxy's cache is decided without a fiber. The token's
 * verdict is already in `answer`: a bad token never gets here, whatever the agent header says.
 */
export const admit = (
  request: ProxyRequestCredentials,
  agent: "missing" | "invalid" | AgentId,
  answer: Authorization
): Either.Either<Admission, AdmissionError> => {
  if (agent === "missing") return Either.left(new MissingAgentId())
  if (agent === "invalid") return Either.left(new InvalidAgentId())
  const refusal = refuseAgent(Option.getOrElse(answer.agent, () => AgentVerdict.Unavailable()))
  if (refusal !== undefined) return Either.left(refusal)
  const { principal } = answer
  const required = RoutePermissions[request.route]
  if (!Permissions.has(principal.permissions, required))
    return Either.left(new InsufficientPermissions({ required: [required] }))
  if (Option.isSome(request.pathOrgId) && request.pathOrgId.value.toLowerCase() !== (principal.orgId as OrgId))
    return Either.left(new OrgAccessDenied())
  const limit = principal.rateLimitPerMinute ?? request.defaultRateLimitPerMinute
  return Either.right({ principal, agentId: agent, policy: perMinute(limit) })
}

/** The limiter's verdict on an admission; `None` when the limiter failed open (no invented numbers). */
export const applyRateLimit = (
  admission: Admission,
  decision: Option.Option<RateLimitDecision>
): Either.Either<AuthorizedRequest, RateLimited> => {
  if (Option.isSome(decision) && !decision.value.allowed)
    return Either.left(
      new RateLimited({
        limit: decision.value.limit,
        resetAtMs: decision.value.resetAtMs,
        retryAfterMs: decision.value.retryAfterMs
      })
    )
  return Either.right({ principal: admission.principal, agentId: admission.agentId, rateLimit: decision })
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
    const answer = yield* auth.authorize(request.token.value, agentOption)
    const admission = yield* admit(request, agent, answer)
    const limiter = yield* RateLimiter
    const decision = yield* limiter.consume(admission.principal.orgId, admission.policy).pipe(
      Effect.map(Option.some),
      Effect.catchTag("RateLimiterUnavailable", () => Effect.succeed(Option.none<RateLimitDecision>()))
    )
    return yield* applyRateLimit(admission, decision)
  }).pipe(Effect.withSpan("Proxy.authorize", { captureStackTrace: false }))
