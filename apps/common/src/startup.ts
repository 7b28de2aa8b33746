import { existsSync } from "node:fs"
import { join } from "node:path"
import { Cause, type Config, type ConfigError, Data, Effect } from "effect"

/**
 * What every entry point (auth, proxy, `npm start`, the CLI) does before reading its
 * configuration: load `.env`, and turn a configuration failure into one JSON line that names
 * every invalid variable and why (docs/CONFIGURATION.md).
 */

/**
 * Loads `<dir>/.env` (default: the working directory) into `process.env` with Node's own parser
 * (`process.loadEnvFile`, Node >= 20.12). A variable already in the environment wins, even when
 * set to "". Answers the file loaded, or null when there is none.
 */
export const loadDotEnv = (dir: string = process.cwd()): string | null => {
  const file = join(dir, ".env")
  if (!existsSync(file)) return null
  process.loadEnvFile(file)
  return file
}

/** One invalid setting: the variable and what is wrong with it. */
export interface InvalidSetting {
  readonly variable: string
  readonly reason: string
}

/**
 * Every leaf of a ConfigError (Config.all reports all of its failing fields together), as
 * variable + reason, deduplicated. The reasons are Effect's or our `Config.validate` messages:
 * they quote a value only when it failed to parse (a number, a log level), and no secret is
 * parsed (secrets are read as Redacted strings).
 */
export const invalidSettings = (error: ConfigError.ConfigError): ReadonlyArray<InvalidSetting> => {
  const out = new Map<string, InvalidSetting>()
  const walk = (e: ConfigError.ConfigError): void => {
    switch (e._op) {
      case "And":
      case "Or":
        walk(e.left)
        walk(e.right)
        return
      default: {
        const variable = e.path.join("_") || "(configuration)"
        out.set(`${variable}\u0000${e.message}`, { variable, reason: e.message })
      }
    }
  }
  walk(error)
  return [...out.values()]
}

/** The configuration could not be read; `invalid` names each variable. */
export class ConfigInvalid extends Data.TaggedError("ConfigInvalid")<{
  readonly invalid: ReadonlyArray<InvalidSetting>
}> {}

/** Reads a Config, failing with ConfigInvalid (every invalid variable) instead of a ConfigError. */
export const readConfig = <A>(config: Config.Config<A>): Effect.Effect<A, ConfigInvalid> =>
  Effect.mapError(config, (error) => new ConfigInvalid({ invalid: invalidSettings(error) }))

/** The fields of the one line a configuration failure prints. */
export const configInvalidRecord = (service: string, error: ConfigInvalid) => ({
  event: "config_invalid",
  service,
  invalid: error.invalid,
  see: "docs/CONFIGURATION.md"
})

/**
 * Start-up failures (a port in use, a database that will not start or answer, a refused
 * migration, a routing config that cannot be loaded) say what and where: their fields are hosts, ports, codes,
 * paths and our own messages, never request data or secrets, so they are printed whole.
 */
const startFailure = (error: unknown): Record<string, unknown> | undefined => {
  if (typeof error !== "object" || error === null || !("_tag" in error)) return undefined
  if (!/ListenError|StartFailed|MigrationFailed|RoutingLoadFailed|StoreUnavailable/.test(String(error._tag)))
    return undefined
  const fields: Record<string, unknown> = { tag: String(error._tag) }
  for (const [key, value] of Object.entries(error))
    if (key !== "_tag" && ["string", "number", "boolean"].includes(typeof value)) fields[key] = value
  if ("message" in error && typeof error.message === "string" && error.message !== "") fields.message = error.message
  return fields
}

/**
 * Logs how a service stopped, as one JSON line: a configuration failure as `config_invalid`
 * with every variable and reason; a start-up failure as `<event>` with its fields in
 * `start_error`; anything else as `<event>` with the cause's tags.
 */
export const logStopped =
  (service: string, event: string) =>
  <E>(cause: Cause.Cause<E>): Effect.Effect<void> => {
    const failure = Cause.failureOption(cause)
    if (failure._tag === "Some" && failure.value instanceof ConfigInvalid)
      return Effect.logFatal(configInvalidRecord(service, failure.value))
    const start = failure._tag === "Some" ? startFailure(failure.value) : undefined
    return Effect.logError(start === undefined ? { event } : { event, start_error: start }, cause)
  }

/**
 * An orderly stop (SIGTERM or SIGINT: the main fiber interrupted once everything drained and
 * closed) as one INFO line, so a clean stop does not read like a crash in the logs.
 */
export const logStoppedBySignal =
  (event: string) =>
  <A, E, R>(program: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.onInterrupt(program, () => Effect.logInfo({ event, reason: "signal" }))
