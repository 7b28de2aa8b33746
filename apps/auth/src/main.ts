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
import { Config, Effect, Layer, Logger } from "effect"
import { AUTH_VERSION, AuthAdminHttpLive } from "./AdminHttp.js"
import { AuthServiceLive } from "./AuthServiceLive.js"
import { AuthConfig, AuthHttpConfig, AuthTlsConfig } from "./config.js"
import { IamAdminHandlersLive } from "./IamLive.js"

/** `npm start -w apps/auth` (or `npx tsx apps/auth/src/main.ts`): runs until SIGINT / SIGTERM, then drains. */
loadDotEnv()
skipStackTraces()

const program = Effect.gen(function* () {
  // Read together, so one line names every invalid variable at once.
  const { config, http, tls, telemetry } = yield* readConfig(
    Config.all({
      config: AuthConfig,
      http: AuthHttpConfig,
      tls: AuthTlsConfig,
      telemetry: telemetryConfig("ibex-auth", AUTH_VERSION)
    })
  )
  // gRPC's drain (5 s) and the finalizers, with room to spare; past it the process exits anyway.
  exitAfterShutdownDeadline("auth", 20_000)
  if (tls._tag !== "Mtls")
    yield* Effect.logWarning({
      event: "auth_grpc_plaintext",
      message:
        "AUTH_GRPC_INSECURE=true: the internal gRPC is plaintext and unauthenticated; anyone who reaches the port can call every RPC. Development only."
    })
  const admin = AuthAdminHttpLive({ host: http.host, port: http.port, version: AUTH_VERSION }).pipe(
    Layer.provide(IamAdminHandlersLive(http))
  )
  return yield* Layer.launch(
    admin.pipe(
      Layer.provideMerge(AuthServiceLive(config, tls._tag === "Mtls" ? { tls: tls.material } : {})),
      Layer.provide(TelemetryLive(telemetry))
    )
  ).pipe(Logger.withMinimumLogLevel(config.logLevel))
}).pipe(
  logStoppedBySignal("auth_stopped"),
  Effect.tapErrorCause(logStopped("auth", "auth_stopped")),
  Effect.provide(JsonLoggerLive)
)

NodeRuntime.runMain(program, { disableErrorReporting: true, disablePrettyLogger: true })
