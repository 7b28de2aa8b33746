import { resolve } from "node:path"
import { CommandDescriptor, Options } from "@effect/cli"
import { configInvalidRecord, type GrpcTls, readConfig } from "@ibex/app-common"
import { readTlsFiles, type TlsMaterial } from "@ibex/auth-adapter-grpc"
import { readStackEndpoint, type StackEndpointTls } from "@ibex/persistence-pg"
import { type Config, Data, Effect, Option } from "effect"
import { CliEnv, CliTls, DEFAULT_AUTH_TARGET, UNSET_AUTH_TARGET } from "./config.js"
import { type CliError, operationError, printError, usageError } from "./output.js"

/** `--json` on every command: machine output on stdout instead of the human lines. */
/**
 * A command group's description with its subcommands named: `ibex budget --help` shows the group
 * alone (@effect/cli lists children only under the root's help), and a newcomer saw no `get` or
 * `set` there.
 */
export const withSubcommandsNamed = (
  description: string,
  path: string,
  subcommands: ReadonlyArray<{ readonly descriptor: CommandDescriptor.Command<unknown> }>
): string =>
  `${description} Subcommands: ${subcommands.flatMap((c) => [...CommandDescriptor.getNames(c.descriptor)]).join(", ")} (\`ibex ${path} <subcommand> --help\`).`

export const jsonOption = Options.boolean("json").pipe(
  Options.withDescription("Print machine-readable JSON on stdout (errors as JSON on stderr).")
)

/** Ends the run with this exit code after the error has been printed. */
export class ExitWith extends Data.TaggedError("ExitWith")<{ readonly code: number }> {}

/** A stack killed without its finalizers leaves its ibex-stack.json: a pid no longer alive is no stack. */
const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: alive, another user's (a reused pid; the call then fails on the TLS or the token).
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** A bad value is a usage error printed as the services print theirs: one `config_invalid` line naming every variable. */
const readCliConfig = <A>(config: Config.Config<A>): Effect.Effect<A, CliError> =>
  readConfig(config).pipe(
    Effect.mapError((e) => usageError(JSON.stringify(configInvalidRecord("cli", e)), { preformatted: true }))
  )

/** The environment (cliEnvVars). */
export const cliEnv = readCliConfig(CliEnv).pipe(
  // AUTH_GRPC_TARGET unset: a stack running on the data folder says where its auth listens (it
  // may run on other ports), as it does for the platform commands.
  Effect.map(
    (env): CliEnv =>
      env.authTarget !== UNSET_AUTH_TARGET
        ? env
        : {
            ...env,
            authTarget: Option.match(
              Option.filter(readStackEndpoint(resolve(env.dataDir)), (endpoint) => isAlive(endpoint.pid)),
              { onNone: () => DEFAULT_AUTH_TARGET, onSome: (endpoint) => endpoint.authGrpc }
            )
          }
  )
)

/** Runs a command body; a CliError is printed (as JSON with --json) and becomes its exit code. */
export const handled = <R>(json: boolean, body: Effect.Effect<void, CliError, R>): Effect.Effect<void, ExitWith, R> =>
  body.pipe(
    Effect.catchTag("CliError", (error) =>
      Effect.zipRight(printError(json, error), Effect.fail(new ExitWith({ code: error.exitCode })))
    )
  )

/** The mutual TLS the CLI dials auth with, from a running stack's `ibex-stack.json` (its development CLI certificate). */
export const stackTls = (tls: StackEndpointTls): Effect.Effect<TlsMaterial, CliError> =>
  Effect.try({
    try: () => ({ ...readTlsFiles(tls), serverName: tls.serverName }),
    catch: () =>
      operationError(
        `cannot read the running stack's CLI certificate (${tls.certFile}): run ibex as the user who runs npm start`
      )
  })

/**
 * How the CLI reaches auth over gRPC (issue 14 item 1): IBEX_CLI_TLS_CERT_FILE / _KEY_FILE and
 * IBEX_TLS_CA_FILE; else the CLI certificate a running `npm start` on IBEX_DATA_DIR records in
 * `ibex-stack.json`; else plaintext when AUTH_GRPC_INSECURE=true; else refused before any
 * credential is sent.
 */
export const grpcTls = (env: CliEnv): Effect.Effect<TlsMaterial | undefined, CliError> =>
  Effect.flatMap(cliTls, (tls) => grpcTlsOf(env, tls))

const cliTls = readCliConfig(CliTls)

const grpcTlsOf = (env: CliEnv, tls: GrpcTls): Effect.Effect<TlsMaterial | undefined, CliError> => {
  if (tls._tag === "Mtls") return Effect.succeed(tls.material)
  const endpoint = readStackEndpoint(resolve(env.dataDir))
  if (Option.isSome(endpoint) && endpoint.value.tls !== undefined) return stackTls(endpoint.value.tls)
  if (tls._tag === "Insecure") return Effect.succeed(undefined)
  return Effect.fail(
    usageError(
      "no client certificate for the auth service: set IBEX_CLI_TLS_CERT_FILE, IBEX_CLI_TLS_KEY_FILE and IBEX_TLS_CA_FILE (docs/CONFIGURATION.md), run npm start on IBEX_DATA_DIR, or set AUTH_GRPC_INSECURE=true for an auth that runs plaintext"
    )
  )
}
