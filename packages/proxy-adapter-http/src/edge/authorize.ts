import type { IncomingMessage } from "node:http"
import {
  type Admission,
  type AuthGateway,
  type AuthGatewayShape,
  type AuthorizationError,
  type AuthorizedRequest,
  admit,
  applyRateLimit,
  authorizeProxyRequest,
  type ProtectedRoute,
  type ProxyRequestCredentials,
  parseAgentHeader,
  type RateLimitDecision,
  type RateLimiter,
  type RateLimiterShape,
  toEnvelope,
  withSpanWhenTraced
} from "@ibex/domain"
import { Cause, Effect, Either, Exit, Option, Runtime } from "effect"
import { ClientAddress } from "../auth/FailureBudget.js"
import { bearerToken, headerValue } from "../headers.js"
import type { ProxyMetrics } from "../Metrics.js"
import type { ProxyConfigShape } from "../ProxyConfig.js"
import type { RequestState } from "./RequestState.js"

export interface AuthorizeStage {
  /** Token → agent → permission → org scope → rate limit, as an Effect (any request). */
  readonly authorize: (
    req: IncomingMessage,
    state: RequestState,
    route: ProtectedRoute,
    pathOrgId: string | undefined
  ) => Effect.Effect<AuthorizedRequest, AuthorizationError, AuthGateway | RateLimiter>
  /**
   * The same decision without a request fiber, when the gateway holds an acceptance for this
   * token and agent (a warm request): returns true and calls `done` once the limiter answered.
   * False, having done nothing, when the request must go through `authorize`.
   */
  readonly authorizeWarm: (
    req: IncomingMessage,
    state: RequestState,
    route: ProtectedRoute,
    pathOrgId: string | undefined,
    done: (result: Either.Either<AuthorizedRequest, AuthorizationError | Cause.Cause<unknown>>) => void
  ) => boolean
}

/**
 * The authorize stage, recording the org and the limiter's decision on the request. A warm
 * request (the proxy's cache holds auth's acceptance) runs the domain's pure `admit` and then the
 * limiter alone; everything else runs the whole `authorizeProxyRequest`. Both end in the same
 * `applyRateLimit`, so the two paths cannot decide differently.
 */
export const makeAuthorizeStage = (
  config: ProxyConfigShape,
  metrics: ProxyMetrics,
  gateway: AuthGatewayShape,
  limiter: RateLimiterShape,
  runtime: Runtime.Runtime<never>
): AuthorizeStage => {
  const agentHeader = config.headers.agentId.toLowerCase()
  const runCallback = Runtime.runCallback(runtime)

  const credentialsOf = (
    req: IncomingMessage,
    route: ProtectedRoute,
    pathOrgId: string | undefined
  ): ProxyRequestCredentials => ({
    token: bearerToken(req.headers.authorization),
    agentId: Option.fromNullable(headerValue(req.headers, agentHeader)),
    route,
    pathOrgId: Option.fromNullable(pathOrgId),
    defaultRateLimitPerMinute: config.defaultRateLimitPerMinute
  })

  const recordAccepted = (state: RequestState, authorized: AuthorizedRequest) => {
    state.orgId = authorized.principal.orgId
    metrics.authOutcome("ok")
    if (Option.isSome(authorized.rateLimit)) {
      state.rate = authorized.rateLimit.value
      metrics.rateLimitDecision("allowed")
    } else metrics.rateLimitDecision("fail_open")
  }

  const recordRefused = (state: RequestState, error: AuthorizationError) => {
    if (error._tag === "RateLimited") {
      metrics.authOutcome("ok")
      metrics.rateLimitDecision("denied")
      state.rate = {
        allowed: false,
        limit: error.limit,
        remaining: 0,
        resetAtMs: error.resetAtMs,
        retryAfterMs: error.retryAfterMs
      }
    } else metrics.authOutcome(toEnvelope(error, "").body.error.code)
  }

  // The limiter's answer, or None when it failed open (ADR-0015).
  const limit = (admission: Admission): Effect.Effect<Option.Option<RateLimitDecision>> =>
    limiter.consume(admission.principal.orgId, admission.policy).pipe(
      Effect.map(Option.some),
      Effect.catchTag("RateLimiterUnavailable", () => Effect.succeed(Option.none<RateLimitDecision>()))
    )

  // An acceptance the gateway holds, admitted by the domain's rules; undefined sends the request
  // the long way (a miss, a refusal, a stale cache: `authorize` decides those).
  const warmAdmission = (credentials: ProxyRequestCredentials): Admission | undefined => {
    if (gateway.peek === undefined || Option.isNone(credentials.token)) return undefined
    const agent = parseAgentHeader(credentials.agentId)
    if (agent === "missing" || agent === "invalid") return undefined
    const answer = gateway.peek(credentials.token.value, Option.some(agent))
    if (answer === undefined) return undefined
    const admission = admit(credentials, agent, answer)
    return Either.isRight(admission) ? admission.right : undefined
  }

  const authorize: AuthorizeStage["authorize"] = (req, state, route, pathOrgId) => {
    const credentials = credentialsOf(req, route, pathOrgId)
    const admission = warmAdmission(credentials)
    const decided =
      admission !== undefined
        ? Effect.flatMap(limit(admission), (decision) => applyRateLimit(admission, decision)).pipe(
            // The long way's span name, so a traced warm request shows the same tree.
            withSpanWhenTraced("Proxy.authorize", { captureStackTrace: false })
          )
        : authorizeProxyRequest(credentials).pipe(
            // Whom a remote lookup is charged to when auth refuses it (the per-address failure budget).
            Effect.locally(ClientAddress, req.socket.remoteAddress ?? null)
          )
    return decided.pipe(
      Effect.tap((authorized) => Effect.sync(() => recordAccepted(state, authorized))),
      Effect.tapError((error) => Effect.sync(() => recordRefused(state, error)))
    )
  }

  const authorizeWarm: AuthorizeStage["authorizeWarm"] = (req, state, route, pathOrgId, done) => {
    const admission = warmAdmission(credentialsOf(req, route, pathOrgId))
    if (admission === undefined) return false
    const decided = (decision: Option.Option<RateLimitDecision>) => {
      let result: Either.Either<AuthorizedRequest, AuthorizationError>
      try {
        result = applyRateLimit(admission, decision)
        if (Either.isRight(result)) recordAccepted(state, result.right)
        else recordRefused(state, result.left)
      } catch (defect) {
        // Called from the limiter's own callback: a throw must become the request's 500, as
        // a defect in the Effect would, never an unhandled rejection.
        return done(Either.left(Cause.die(defect)))
      }
      done(result)
    }
    // The limiter's own callback when it offers one (no fiber at all); its Effect otherwise.
    // Unavailable is None either way: the limiter failed open, as `limit` says.
    if (limiter.consumeNow !== undefined)
      limiter.consumeNow(admission.principal.orgId, admission.policy, (r) =>
        decided(Either.isRight(r) ? Option.some(r.right) : Option.none())
      )
    else
      runCallback(limit(admission), {
        onExit: (exit) => (Exit.isFailure(exit) ? done(Either.left(exit.cause)) : decided(exit.value))
      })
    return true
  }

  return { authorize, authorizeWarm }
}
