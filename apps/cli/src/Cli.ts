import { Command, ValidationError } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { escapeControlCharacters } from "@ibex/domain"
import { Cause, Console, Effect, Exit } from "effect"
import { adminCommand } from "./commands/admin.js"
import { agentCommand } from "./commands/agent.js"
import { budgetCommand } from "./commands/budget.js"
import { dbCommand } from "./commands/db.js"
import { orgCommand } from "./commands/org.js"
import { tokenCommand } from "./commands/token.js"
import { usageCommand } from "./commands/usage.js"
import { ExitWith } from "./common.js"

export const VERSION = "0.1.0"

export const ibexCommand = Command.make("ibex").pipe(
  Command.withDescription(
    "IBEX Harness admin CLI. Onboard a tenant: `ibex org create --name acme --agent bot` prints its first admin token and agent id; `ibex org disable acme` / `ibex org enable acme`. org / agent / admin (and token --org) are platform-admin commands: directly on the database as its owner (DATABASE_URL, or the embedded PGlite when unset), or through the auth service's PlatformAdminService with IBEX_ADMIN_TOKEN or while `npm start` runs on the embedded folder. token (without --org) talks to the auth service over gRPC (AUTH_GRPC_TARGET) as your PAT (IBEX_TOKEN). Metering: `ibex usage --by model --since 7d` reports requests, tokens and cost in USD; `ibex budget set --monthly-usd 50 --tokens-per-minute 100000` sets the limits the proxies enforce (both also with --org as a platform admin)."
  ),
  Command.withSubcommands([
    dbCommand,
    tokenCommand,
    orgCommand,
    agentCommand,
    adminCommand,
    usageCommand,
    budgetCommand
  ])
)

const cli = Command.run(ibexCommand, { name: "ibex", version: VERSION })

/**
 * Runs the CLI on `argv` (process.argv shape: runtime and script first) and answers the exit
 * code: 0 success, 1 the operation failed, 2 the command line was wrong. Errors are printed
 * as one message, never a stack trace.
 */
export const runCli = (argv: ReadonlyArray<string>): Effect.Effect<number> =>
  cli(argv).pipe(
    Effect.as(0),
    Effect.catchIf(
      (e): e is ExitWith => e instanceof ExitWith,
      (e) => Effect.succeed(e.code)
    ),
    // @effect/cli has already printed what was wrong with the command line, with the usage.
    Effect.catchIf(ValidationError.isValidationError, () => Effect.succeed(2)),
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause)
        ? Effect.succeed(130)
        : Console.error(`ibex: unexpected error: ${escapeControlCharacters(describe(Cause.squash(cause)))}`).pipe(
            Effect.as(1)
          )
    ),
    Effect.provide(NodeContext.layer)
  )

const describe = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : typeof error === "string" ? error : "unknown failure"

/** The process exit code of a finished `runCli`. */
export const exitCodeOf = (exit: Exit.Exit<unknown, unknown>): number =>
  Exit.isSuccess(exit)
    ? typeof exit.value === "number"
      ? exit.value
      : 0
    : Cause.isInterruptedOnly(exit.cause)
      ? 130
      : 1
