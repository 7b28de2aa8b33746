import { NodeSdk } from "@effect/opentelemetry"
import { AuthGrpcServer, AuthGrpcServerLive } from "@ibex/auth-adapter-grpc"
import {
  emptyRoutingTable,
  jsonLoggerTo,
  type Routing,
  RoutingStatic,
  UsageLedger,
  type UsageRecord,
  UsageSink
} from "@ibex/domain"
import { defaultAuthorizationCacheOptions, ProxyServer } from "@ibex/proxy-adapter-http"
import { authServicesMemory, setupOrg, type TestOrgContext } from "@ibex/testkit"
import { ledgerOf } from "@ibex/testkit/upstream"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Layer, LogLevel, ManagedRuntime, Option } from "effect"
import { ProxyServiceLive } from "../src/index.js"

/**
 * The real auth gRPC server over in-memory stores and the proxy exactly as the app composes it
 * (ProxyServiceLive: AuthGatewayGrpc on one channel, the in-process limiter, /ready probes), in
 * one process, with every span in an in-memory exporter and every log line captured as the
 * production JSON logger writes it.
 */
export const startProxyStack = async (
  options: {
    readonly processMetrics?: boolean
    readonly routing?: Layer.Layer<Routing, unknown>
    readonly drainTimeoutMs?: number
    /** An operations listener (PROXY_ADMIN_PORT) on a free port. */
    readonly adminListener?: boolean
    /** Off: no span is built, and warm requests take the fiber-less paths. Default on. */
    readonly tracing?: boolean
  } = {}
) => {
  const spans = new InMemorySpanExporter()
  // Every usage record the proxy hands its sink, in order.
  const usage: Array<UsageRecord> = []
  const logs: Array<string> = []
  const tracing = NodeSdk.layer(() => ({
    resource: { serviceName: "ibex-test" },
    spanProcessor: new SimpleSpanProcessor(spans)
  }))
  const auth = AuthGrpcServerLive({ host: "127.0.0.1", port: 0, shutdownTimeoutMs: 1_000 }).pipe(
    Layer.provideMerge(authServicesMemory())
  )
  const proxy = Layer.unwrapEffect(
    Effect.map(AuthGrpcServer, (server) =>
      ProxyServiceLive(
        {
          http: {
            host: "127.0.0.1",
            port: 0,
            processMetrics: options.processMetrics ?? false,
            tracing: options.tracing ?? true,
            ...(options.drainTimeoutMs === undefined ? {} : { drainTimeoutMs: options.drainTimeoutMs }),
            ...(options.adminListener === true ? { adminPort: 0 } : {})
          },
          authTarget: server.address,
          authTimeoutMs: 2_000,
          redisUrl: Option.none(),
          redisCommandTimeoutMs: 25,
          redisLeaseMaxUnits: 64,
          authCache: defaultAuthorizationCacheOptions,
          logLevel: LogLevel.Info,
          usageBufferMax: 10_000,
          routing: {
            file: Option.none(),
            nats: Option.none(),
            embedded: { openai: Option.none(), anthropic: Option.none() },
            keys: { OPENAI_API_KEY: Option.none(), ANTHROPIC_API_KEY: Option.none() }
          }
        },
        options.routing ?? RoutingStatic(emptyRoutingTable, "none"),
        Layer.merge(
          Layer.succeed(UsageSink, { offer: (r) => usage.push(r) }),
          Layer.succeed(UsageLedger, ledgerOf(usage))
        )
      )
    )
  )
  const stack = proxy.pipe(
    Layer.provideMerge(auth),
    Layer.provide(tracing),
    Layer.provide(jsonLoggerTo((line) => logs.push(line)))
  )
  const runtime = ManagedRuntime.make(stack)
  const org: TestOrgContext = await runtime.runPromise(setupOrg())
  const proxyServer = await runtime.runPromise(ProxyServer)
  const authServer = await runtime.runPromise(AuthGrpcServer)
  return {
    runtime,
    spans,
    logs,
    org,
    url: proxyServer.url,
    adminUrl: proxyServer.adminUrl,
    usage,
    authAddress: authServer.address,
    close: () => runtime.dispose()
  }
}

/** Waits until `found` returns something (spans end a little after the response is written). */
export const eventually = async <A>(found: () => A | undefined, timeoutMs = 2_000): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = found()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error("condition not met in time")
    await new Promise((r) => setTimeout(r, 10))
  }
}
