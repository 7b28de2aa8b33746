import { NodeRuntime } from "@effect/platform-node"
import { JsonLoggerLive, loadDotEnv, logStopped, readConfig, TelemetryLive, telemetryConfig } from "@ibex/app-common"
import { Config, Effect, Layer, Logger } from "effect"
import { AUTH_VERSION, AuthAdminHttpLive } from "./AdminHttp.js"
import { AuthServiceLive } from "./AuthServiceLive.js"
import { AuthConfig, AuthHttpConfig } from "./config.js"
import { IamAdminHandlersLive } from "./IamLive.js"

/** `npm start -w apps/auth` (or `npx tsx apps/auth/src/main.ts`): runs until SIGINT / SIGTERM, then drains. */
loadDotEnv()

const program = Effect.gen(function* () {
  // Read together, so one line names every invalid variable at once.
  const { config, http, telemetry } = yield* readConfig(
    Config.all({
      config: AuthConfig,
      http: AuthHttpConfig,
      telemetry: telemetryConfig("ibex-auth", AUTH_VERSION)
    })
  )
  const admin = AuthAdminHttpLive({ host: http.host, port: http.port, version: AUTH_VERSION }).pipe(
    Layer.provide(IamAdminHandlersLive(http))
  )
  return yield* Layer.launch(
    admin.pipe(Layer.provideMerge(AuthServiceLive(config)), Layer.provide(TelemetryLive(telemetry)))
  ).pipe(Logger.withMinimumLogLevel(config.logLevel))
}).pipe(Effect.tapErrorCause(logStopped("auth", "auth_stopped")), Effect.provide(JsonLoggerLive))

NodeRuntime.runMain(program, { disableErrorReporting: true, disablePrettyLogger: true })
