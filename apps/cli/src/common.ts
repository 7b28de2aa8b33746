import { Options } from "@effect/cli"
import { configInvalidRecord, readConfig } from "@ibex/app-common"
import { Data, Effect } from "effect"
import { CliEnv } from "./config.js"
import { type CliError, printError, usageError } from "./output.js"

/** `--json` on every command: machine output on stdout instead of the human lines. */
export const jsonOption = Options.boolean("json").pipe(
  Options.withDescription("Print machine-readable JSON on stdout (errors as JSON on stderr).")
)

/** Ends the run with this exit code after the error has been printed. */
export class ExitWith extends Data.TaggedError("ExitWith")<{ readonly code: number }> {}

/**
 * The environment (cliEnvVars), a bad value being a usage error printed as the services print
 * theirs: one `config_invalid` JSON line naming every variable and the reason.
 */
export const cliEnv = readConfig(CliEnv).pipe(
  Effect.mapError((e) => usageError(JSON.stringify(configInvalidRecord("cli", e)), { preformatted: true }))
)

/** Runs a command body; a CliError is printed (as JSON with --json) and becomes its exit code. */
export const handled = <R>(json: boolean, body: Effect.Effect<void, CliError, R>): Effect.Effect<void, ExitWith, R> =>
  body.pipe(
    Effect.catchTag("CliError", (error) =>
      Effect.zipRight(printError(json, error), Effect.fail(new ExitWith({ code: error.exitCode })))
    )
  )
