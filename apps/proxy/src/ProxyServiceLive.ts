import { AuthClient, AuthGatewayGrpc } from "@ibex/auth-adapter-grpc"
import { type RateLimiter, RateLimiterMemory } from "@ibex/domain"
import { makeProxyConfig, ProxyConfig, ProxyHttpLive, type ReadinessProbe } from "@ibex/proxy-adapter-http"
import { RateLimiterRedis, RateLimiterRedisHealth } from "@ibex/ratelimit-redis"
import { Effect, Layer, Option, Redacted } from "effect"
import type { ProxyAppConfig } from "./config.js"

/**
 * The proxy process: the HTTP edge over AuthGateway (gRPC, one channel, per-call deadline) and a
 * RateLimiter — Redis when REDIS_URL is set, otherwise the in-process limiter (correct for one
 * proxy instance only: the embedded default). /ready probes the auth server's gRPC health and
 * Redis (or reports it disabled).
 */
export const ProxyServiceLive = (config: ProxyAppConfig) => {
  const limiter: Layer.Layer<RateLimiter | RateLimiterRedisHealth> | Layer.Layer<RateLimiter> = Option.match(
    config.redisUrl,
    {
      onNone: () => RateLimiterMemory,
      onSome: (url) => RateLimiterRedis({ url: Redacted.value(url), commandTimeoutMs: config.redisCommandTimeoutMs })
    }
  )
  const readiness = Layer.effect(
    ProxyConfig,
    Effect.gen(function* () {
      const client = yield* AuthClient
      // Open the auth channel now, not on the first request: connecting costs more than the
      // 50 ms budget on a busy machine, and the first agent should not pay it with a 503.
      yield* Effect.ignore(client.checkHealth())
      const redis = yield* Effect.serviceOption(RateLimiterRedisHealth)
      const probes: Array<ReadinessProbe> = [
        {
          name: "auth_grpc",
          check: client.checkHealth().pipe(
            Effect.map((s) => s === "SERVING"),
            Effect.orElseSucceed(() => false)
          )
        },
        { name: "redis", check: Option.match(redis, { onNone: () => null, onSome: (r) => r.ping }) }
      ]
      return makeProxyConfig({ ...config.http, readiness: probes })
    })
  )
  const auth = AuthGatewayGrpc({ target: config.authTarget, deadlineMs: config.authTimeoutMs })
  return ProxyHttpLive.pipe(Layer.provide(readiness), Layer.provideMerge(Layer.merge(auth, limiter)))
}
