import { randomBytes } from "node:crypto"
import { AuthConfig, authServicesOnDatabase } from "@ibex/app-auth"
import { UsageLedgerGrpc, UsageSinkGrpc } from "@ibex/app-proxy"
import { UsageClientLive } from "@ibex/auth-adapter-grpc"
import { decodeRoutingConfig, RateLimiterMemory, RoutingStatic, UsageLimiterMemory } from "@ibex/domain"
import { migrationsKey, runMigrations } from "@ibex/persistence-pg"
import { ProviderGatewayLive } from "@ibex/providers"
import { defaultAuthorizationCacheOptions, ProxyConfig, ProxyHttpLive } from "@ibex/proxy-adapter-http"
import { provisionDatabase } from "@ibex/testkit/provision"
import { ConfigProvider, Effect, Either, Layer, Logger, ManagedRuntime, Redacted } from "effect"
import { ProxyAuthGatewayLive } from "../../proxy/src/ProxyServiceLive.js"

/** A migrated database of its own, and auth's services on it (one pepper). */
export const authOnFreshDatabase = async () => {
  const database = await provisionDatabase({
    migrations: { key: migrationsKey(), migrate: (url) => runMigrations(url) }
  })
  const config = Effect.runSync(Effect.withConfigProvider(AuthConfig, ConfigProvider.fromMap(new Map())))
  const services = authServicesOnDatabase(
    config,
    { url: Redacted.make(database.appUrl), appRole: database.appRole, maxConnections: 8 },
    Redacted.make(randomBytes(32).toString("base64url"))
  )
  return { database, services }
}

/**
 * A proxy as the embedded default runs one, metering to a real auth at `target`: counts in
 * memory, usage records shipped and the month's spend read over gRPC (RecordUsage, GetMonthSpend).
 * Model `m` goes to the mock at `mockUrl`, priced 2 / 8 USD per million input / output tokens.
 */
export const meteringProxy = (target: string, mockUrl: string) => {
  const table = Either.getOrThrow(
    decodeRoutingConfig(
      {
        providers: [{ id: "mock", kind: "openai", base_url: `${mockUrl}/v1` }],
        models: [
          {
            name: "m",
            targets: [{ provider: "mock", model: "m" }],
            pricing: { input_per_million: 2, output_per_million: 8 }
          }
        ]
      },
      () => undefined
    )
  )
  return ManagedRuntime.make(
    ProxyHttpLive.pipe(
      Layer.provideMerge(
        Layer.mergeAll(
          ProxyAuthGatewayLive({ target, deadlineMs: 2_000 }, defaultAuthorizationCacheOptions),
          RateLimiterMemory,
          UsageLimiterMemory.pipe(
            Layer.provideMerge(
              Layer.merge(UsageSinkGrpc({ maxBuffered: 10_000 }), UsageLedgerGrpc).pipe(
                Layer.provide(UsageClientLive({ target }))
              )
            )
          ),
          RoutingStatic(table),
          ProviderGatewayLive,
          ProxyConfig.layer({ port: 0, host: "127.0.0.1", processMetrics: false, accessLog: false })
        )
      ),
      Layer.provide(Logger.remove(Logger.defaultLogger))
    )
  )
}
