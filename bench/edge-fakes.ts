// The proxy's HTTP edge alone: the real ProxyHttpLive (same middleware, metrics, access log
// through the apps' JSON logger) and the proxy's real authorization cache, in front of an
// in-process fake of auth (a fixed principal, heartbeats every 25 ms as auth sends them) and the
// in-memory limiter production runs without Redis (a huge limit). Separates the edge's own cost from the remote calls.
// Usage: node --import tsx bench/edge-fakes.ts <port> [upstream-url]   (diagnostic row "edge only" of
// npm run bench; with an upstream URL, model "bench-model" forwards there as an OpenAI-compatible provider)

import { JsonLoggerLive, skipStackTraces } from "@ibex/app-common"
import {
  AuthGateway,
  AuthInvalidation,
  authGatewayFromChecks,
  decodeRoutingConfig,
  emptyRoutingTable,
  InvalidToken,
  type OrgId,
  Permissions,
  RateLimiterMemory,
  RoutingStatic,
  type TokenId,
  UsageLimiterMemory,
  UsageSink
} from "@ibex/domain"
import { ProviderGatewayLive } from "@ibex/providers"
import { AuthGatewayCached, ProxyConfig, ProxyHttpLive } from "@ibex/proxy-adapter-http"
import { UsageLedgerEmpty } from "@ibex/testkit/upstream"
import { Effect, Either, Layer, Redacted, Schedule, Stream } from "effect"
import { benchToken, benchTokenId } from "./benchToken.js"

export const benchOrg = "0190a0b0-0000-7000-8000-000000000001" as OrgId
export const benchAgent = "0190a0b0-0000-7000-8000-0000000000a1"

const auth = Layer.succeed(
  AuthGateway,
  authGatewayFromChecks({
    validateToken: (t) =>
      Redacted.value(t) === benchToken
        ? Effect.succeed({
            orgId: benchOrg,
            tokenId: benchTokenId as TokenId,
            permissions: Permissions.all,
            expiresAt: null,
            rateLimitPerMinute: 1_000_000_000,
            tokensPerMinute: null,
            monthlyBudgetMicroUsd: null
          })
        : Effect.fail(new InvalidToken({ reason: "unknown" })),
    verifyAgent: () => Effect.void,
    invalidations: Stream.repeatEffectWithSchedule(
      Effect.succeed(AuthInvalidation.Heartbeat()),
      Schedule.spaced("25 millis")
    )
  })
)
// The production in-memory limiter (one process): its warm path decides without a fiber, as the
// Redis adapter's does.
const limiter = RateLimiterMemory

// As the proxy's entry point does.
skipStackTraces()
const port = Number(process.argv[2] ?? 0)
const upstream = process.argv[3]
const table =
  upstream === undefined
    ? emptyRoutingTable
    : Either.getOrThrow(
        decodeRoutingConfig(
          {
            providers: [{ id: "bench", kind: "openai", base_url: upstream }],
            models: [{ name: "bench-model", targets: [{ provider: "bench", model: "bench-model" }] }]
          },
          () => undefined
        )
      )
Layer.launch(
  ProxyHttpLive.pipe(
    Layer.provide(
      Layer.mergeAll(
        AuthGatewayCached().pipe(Layer.provide(auth)),
        limiter,
        RoutingStatic(table, "bench"),
        // The edge's own cost: usage records go nowhere here (the full chain ships them to auth),
        // and the ledger is empty.
        UsageLimiterMemory.pipe(Layer.provide(UsageLedgerEmpty)),
        Layer.succeed(UsageSink, { offer: () => {} }),
        ProviderGatewayLive,
        ProxyConfig.layer({ port, host: "127.0.0.1", processMetrics: false, tracing: false })
      )
    )
  )
).pipe(Effect.provide(JsonLoggerLive), Effect.runPromise)
process.on("SIGTERM", () => process.exit(0))
