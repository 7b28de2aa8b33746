import { NodeRuntime } from "@effect/platform-node"
import {
  exitAfterShutdownDeadline,
  JsonLoggerLive,
  loadDotEnv,
  logStopped,
  logStoppedBySignal,
  readConfig,
  skipStackTraces,
  TelemetryLive,
  telemetryConfig
} from "@ibex/app-common"
import { makeProxyConfig } from "@ibex/proxy-adapter-http"
import { Config, Effect, Layer, Logger, Option } from "effect"
import { ProxyAppConfig, ProxyTlsConfig } from "./config.js"
import { ProxyServiceLive } from "./ProxyServiceLive.js"
import { RoutingFromConfig } from "./routingSource.js"

/** The proxy process. Configuration comes from the environment and `.env` (docs/CONFIGURATION.md). */
loadDotEnv()
skipStackTraces()

const program = Effect.gen(function* () {
  // Read together, so one line names every invalid variable at once.
  const { config, tls, telemetry } = yield* readConfig(
    Config.all({ config: ProxyAppConfig, tls: ProxyTlsConfig, telemetry: telemetryConfig("ibex-proxy", "0.1.0") })
  )
  // The drain's own deadline, then the finalizers, with room to spare; past it the process exits anyway.
  exitAfterShutdownDeadline("proxy", makeProxyConfig(config.http).drainTimeoutMs + 15_000)
  if (tls._tag !== "Mtls")
    yield* Effect.logWarning({
      event: "auth_grpc_plaintext",
      message: "AUTH_GRPC_INSECURE=true: the proxy calls auth over plaintext gRPC. Development only."
    })
  return yield* Layer.launch(
    // Spans per request only when something exports them.
    ProxyServiceLive(
      {
        ...config,
        http: { ...config.http, tracing: Option.isSome(telemetry.otlpEndpoint) },
        ...(tls._tag === "Mtls" ? { authTls: tls.material } : {})
      },
      RoutingFromConfig(config.routing)
    ).pipe(Layer.provide(Logger.minimumLogLevel(config.logLevel)), Layer.provide(TelemetryLive(telemetry)))
  )
}).pipe(logStoppedBySignal("proxy_stopped"), Effect.tapErrorCause(logStopped("proxy", "proxy_stopped")))

NodeRuntime.runMain(program.pipe(Effect.provide(JsonLoggerLive)), {
  disableErrorReporting: true,
  disablePrettyLogger: true
})
