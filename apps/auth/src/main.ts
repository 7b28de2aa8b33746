import { NodeRuntime } from "@effect/platform-node"
import { JsonLoggerLive, TelemetryLive, telemetryConfig } from "@ibex/app-common"
import { Effect, Layer, Logger } from "effect"
import { AUTH_VERSION, AuthAdminHttpLive } from "./AdminHttp.js"
import { AuthServiceLive } from "./AuthServiceLive.js"
import { AuthConfig, AuthHttpConfig } from "./config.js"

/** `npm start -w apps/auth` (or `npx tsx apps/auth/src/main.ts`): runs until SIGINT / SIGTERM, then drains. */
const program = Effect.gen(function* () {
  const config = yield* AuthConfig
  const http = yield* AuthHttpConfig
  const telemetry = yield* telemetryConfig("ibex-auth", AUTH_VERSION)
  const admin = AuthAdminHttpLive({ host: http.host, port: http.port, version: AUTH_VERSION })
  return yield* Layer.launch(
    admin.pipe(Layer.provideMerge(AuthServiceLive(config)), Layer.provide(TelemetryLive(telemetry)))
  ).pipe(Logger.withMinimumLogLevel(config.logLevel))
}).pipe(
  Effect.tapErrorCause((cause) => Effect.logError({ event: "auth_stopped" }, cause)),
  Effect.provide(JsonLoggerLive)
)

NodeRuntime.runMain(program, { disableErrorReporting: true, disablePrettyLogger: true })
