import { NodeRuntime } from "@effect/platform-node"
import {
  exitAfterShutdownDeadline,
  JsonLoggerLive,
  loadDotEnv,
  logStopped,
  logStoppedBySignal,
  skipStackTraces,
  TelemetryLive,
  writeStdoutLine
} from "@ibex/app-common"
import { makeProxyConfig } from "@ibex/proxy-adapter-http"
import { Deferred, Effect, Layer, Logger, Option } from "effect"
import { banner } from "./banner.js"
import { loadStackConfig } from "./config.js"
import { Stack, StackLive } from "./Stack.js"

/**
 * `npm start`: the embedded default (no Postgres, no Redis needed) or, with DATABASE_URL /
 * REDIS_URL set, the same stack on those. Runs until SIGINT / SIGTERM, then drains in-flight
 * requests and stops.
 */
loadDotEnv()
skipStackTraces()

const newToken = process.argv.includes("--new-token")

const program = Effect.gen(function* () {
  // A configuration failure is one `config_invalid` line naming every variable (logStopped below).
  const config = yield* loadStackConfig()
  // The proxy's drain deadline, then auth's and the database's finalizers, with room to spare.
  exitAfterShutdownDeadline("stack", makeProxyConfig(config.proxy.http).drainTimeoutMs + 20_000)
  // A start that hangs (a data folder another process still holds, a dependency that never
  // answers) says so every 30 s instead of staying silent; the banner ends it.
  const started = yield* Deferred.make<void>()
  yield* Effect.fork(
    Effect.logWarning({
      event: "stack_still_starting",
      hint: "not ready yet: is another process using the data folder (IBEX_DATA_DIR) or a port, or is DATABASE_URL / REDIS_URL answering?"
    }).pipe(Effect.delay("30 seconds"), Effect.forever, Effect.raceFirst(Deferred.await(started)))
  )
  const announce = Layer.effectDiscard(
    Effect.flatMap(Stack, (info) =>
      Effect.zipRight(
        Effect.sync(() => writeStdoutLine(banner(info))),
        Deferred.succeed(started, undefined)
      )
    )
  )
  return yield* Layer.launch(
    announce.pipe(
      Layer.provideMerge(
        StackLive({
          auth: config.auth,
          authHttp: config.authHttp,
          // Spans per request only when something exports them.
          proxy: {
            ...config.proxy,
            http: { ...config.proxy.http, tracing: Option.isSome(config.telemetry.otlpEndpoint) }
          },
          newToken
        })
      ),
      // One process, one OpenTelemetry SDK: both services' spans land in one trace per request.
      Layer.provide(TelemetryLive(config.telemetry))
    )
  ).pipe(Logger.withMinimumLogLevel(config.auth.logLevel))
}).pipe(
  // One JSON line: config_invalid naming every variable, or stack_stopped (with start_error
  // saying what and where when a port, the database or a migration failed).
  logStoppedBySignal("stack_stopped"),
  Effect.tapErrorCause(logStopped("stack", "stack_stopped")),
  Effect.provide(JsonLoggerLive)
)

NodeRuntime.runMain(program, { disableErrorReporting: true, disablePrettyLogger: true })
