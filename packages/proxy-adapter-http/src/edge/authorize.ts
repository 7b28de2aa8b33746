import type { IncomingMessage } from "node:http"
import {
  type AuthGateway,
  type AuthorizationError,
  type AuthorizedRequest,
  authorizeProxyRequest,
  type ProtectedRoute,
  type RateLimiter,
  toEnvelope
} from "@ibex/domain"
import { Effect, Option } from "effect"
import { ClientAddress } from "../auth/FailureBudget.js"
import { bearerToken, headerValue } from "../headers.js"
import type { ProxyMetrics } from "../Metrics.js"
import type { ProxyConfigShape } from "../ProxyConfig.js"
import type { RequestState } from "./RequestState.js"

export type AuthorizeStage = (
  req: IncomingMessage,
  state: RequestState,
  route: ProtectedRoute,
  pathOrgId: string | undefined
) => Effect.Effect<AuthorizedRequest, AuthorizationError, AuthGateway | RateLimiter>

/** Token → agent → permission → org scope → rate limit, recording the org and the limiter's decision on the request. */
export const makeAuthorizeStage = (config: ProxyConfigShape, metrics: ProxyMetrics): AuthorizeStage => {
  const agentHeader = config.headers.agentId.toLowerCase()
  return (req, state, route, pathOrgId) =>
    authorizeProxyRequest({
      token: bearerToken(req.headers.authorization),
      agentId: Option.fromNullable(headerValue(req.headers, agentHeader)),
      route,
      pathOrgId: Option.fromNullable(pathOrgId),
      defaultRateLimitPerMinute: config.defaultRateLimitPerMinute
    }).pipe(
      // Whom a remote lookup is charged to when auth refuses it (the per-address failure budget).
      Effect.locally(ClientAddress, req.socket.remoteAddress ?? null),
      Effect.tap((authorized) =>
        Effect.sync(() => {
          state.orgId = authorized.principal.orgId
          metrics.authOutcome("ok")
          if (Option.isSome(authorized.rateLimit)) {
            state.rate = authorized.rateLimit.value
            metrics.rateLimitDecision("allowed")
          } else metrics.rateLimitDecision("fail_open")
        })
      ),
      Effect.tapError((error: AuthorizationError) =>
        Effect.sync(() => {
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
        })
      )
    )
}
