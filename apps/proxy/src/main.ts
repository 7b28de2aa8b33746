import { NodeRuntime } from "@effect/platform-node"
import { JsonLoggerLive, TelemetryLive, telemetryConfig } from "@ibex/app-common"
import { ProxyServer } from "@ibex/proxy-adapter-http"
import { Effect, Layer, Logger } from "effect"
import { ProxyAppConfig } from "./config.js"
import { ProxyServiceLive } from "./ProxyServiceLive.js"

/** The proxy process. Configuration comes from the environment (docs/CONFIGURATION.md). */
const program = Effect.gen(function* () {
  const config = yield* ProxyAppConfig
  const telemetry = yield* telemetryConfig("ibex-proxy", config.http.version ?? "0.1.0")
  return yield* Layer.launch(
    Layer.effectDiscard(
      Effect.flatMap(ProxyServer, (server) => Effect.logInfo({ event: "proxy_listening", url: server.url }))
    ).pipe(
      Layer.provideMerge(ProxyServiceLive(config)),
      Layer.provide(Logger.minimumLogLevel(config.logLevel)),
      Layer.provide(TelemetryLive(telemetry))
    )
  )
})

NodeRuntime.runMain(program.pipe(Effect.provide(JsonLoggerLive)), { disablePrettyLogger: true })
