import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Logger } from "effect"
import { AuthServiceLive } from "./AuthServiceLive.js"
import { AuthConfig } from "./config.js"
import { JsonLoggerLive } from "./logging.js"

/** `npm start -w apps/auth` (or `npx tsx apps/auth/src/main.ts`): runs until SIGINT / SIGTERM, then drains. */
const program = Effect.gen(function* () {
  const config = yield* AuthConfig
  return yield* Layer.launch(AuthServiceLive(config)).pipe(Logger.withMinimumLogLevel(config.logLevel))
}).pipe(
  Effect.tapErrorCause((cause) => Effect.logError({ event: "auth_stopped" }, cause)),
  Effect.provide(JsonLoggerLive)
)

NodeRuntime.runMain(program, { disableErrorReporting: true, disablePrettyLogger: true })
