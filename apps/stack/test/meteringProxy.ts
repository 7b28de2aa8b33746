import { UsageLedgerGrpc, UsageSinkGrpc } from "@ibex/app-proxy"
import { UsageClientLive } from "@ibex/auth-adapter-grpc"
import { RateLimiterMemory, RoutingStatic, type RoutingTable, UsageLimiterMemory } from "@ibex/domain"
import { ProviderGatewayLive } from "@ibex/providers"
import { defaultAuthorizationCacheOptions, ProxyConfig, ProxyHttpLive } from "@ibex/proxy-adapter-http"
import { Layer, Logger, ManagedRuntime } from "effect"
import { ProxyAuthGatewayLive } from "../../proxy/src/ProxyServiceLive.js"

/**
 * A proxy as the embedded default runs one, metering to a real auth at `target`: counts in
 * memory, usage records shipped and the month's spend read over gRPC (RecordUsage, GetMonthSpend).
 */
export const meteringProxy = (target: string, table: RoutingTable) =>
  ManagedRuntime.make(
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
