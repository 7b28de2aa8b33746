import { NodeRuntime } from "@effect/platform-node"
import { JsonLoggerLive, TelemetryLive } from "@ibex/app-common"
import { Effect, Layer, Logger } from "effect"
import { banner } from "./banner.js"
import { loadStackConfig } from "./config.js"
import { Stack, StackLive } from "./Stack.js"

/**
 * `npm start`: the embedded default (no Postgres, no Redis needed) or, with DATABASE_URL /
 * REDIS_URL set, the same stack on those. Runs until SIGINT / SIGTERM, then drains in-flight
 * requests and stops.
 */
const newToken = process.argv.includes("--new-token")

const program = Effect.gen(function* () {
  const config = yield* loadStackConfig().pipe(
    // Configuration errors name the variable and what was expected; they carry no secret
    // (secrets are read as Redacted), so they are printed whole, once, for a person to fix.
    Effect.tapErrorTag("ConfigError", (error) =>
      Effect.sync(() => process.stderr.write(`Configuration error: ${String(error)}\nSee docs/CONFIGURATION.md.\n`))
    )
  )
  const announce = Layer.effectDiscard(
    Effect.flatMap(Stack, (info) => Effect.sync(() => process.stdout.write(`${banner(info)}\n`)))
  )
  return yield* Layer.launch(
    announce.pipe(
      Layer.provideMerge(StackLive({ auth: config.auth, authHttp: config.authHttp, proxy: config.proxy, newToken })),
      // One process, one OpenTelemetry SDK: both services' spans land in one trace per request.
      Layer.provide(TelemetryLive(config.telemetry))
    )
  ).pipe(Logger.withMinimumLogLevel(config.auth.logLevel))
}).pipe(
  // Start-up failures (a port in use, a database that will not start) say what and where; their
  // fields are hosts, ports and codes, never request data or secrets.
  Effect.tapError((error) =>
    Effect.sync(() => {
      if (
        typeof error === "object" &&
        error !== null &&
        "_tag" in error &&
        /ListenError|StartFailed|MigrationFailed/.test(String(error._tag))
      ) {
        const { _tag, ...fields } = { ...error } as Record<string, unknown>
        process.stderr.write(`Could not start: ${String(_tag)} ${JSON.stringify(fields)}\n`)
      }
    })
  ),
  Effect.tapErrorCause((cause) => Effect.logError({ event: "stack_stopped" }, cause)),
  Effect.provide(JsonLoggerLive)
)

NodeRuntime.runMain(program, { disableErrorReporting: true, disablePrettyLogger: true })
