import { Options } from "@effect/cli"
import { type UsageCallError, UsageClient, UsageClientLive } from "@ibex/auth-adapter-grpc"
import { Duration, Effect, Option, type Redacted } from "effect"
import { cliEnv, grpcTls } from "./common.js"
import type { CliEnv } from "./config.js"
import { type CliError, operationError, usageError } from "./output.js"
import { durationArg } from "./validate.js"

/**
 * What the usage and budget commands share: the caller's PAT or `--org` as a platform admin, the
 * UsageService client, and money as exact integers of micro-USD, printed in USD with 6 decimals.
 */

export const meteringOrgOption = Options.text("org").pipe(
  Options.withPseudoName("org"),
  Options.withDescription(
    "Act as a platform admin on this org (id or exact name) instead of your PAT's own org: directly on the database as its owner, or through the auth service with IBEX_ADMIN_TOKEN or a running embedded stack; audited."
  ),
  Options.optional
)

export const meteringTokenOption = Options.redacted("token").pipe(
  Options.withPseudoName("pat"),
  Options.withDescription("Your PAT (prefer the IBEX_TOKEN variable: command lines show up in ps and shell history)."),
  Options.optional
)

const bearerFrom = (flag: Option.Option<Redacted.Redacted<string>>, env: CliEnv) =>
  Option.orElse(flag, () => env.token).pipe(
    Option.match({
      onNone: () =>
        Effect.fail(
          usageError("missing token: set IBEX_TOKEN (or pass --token) to a PAT of your org, or name an org with --org")
        ),
      onSome: Effect.succeed
    })
  )

/** The PAT path's failures, explained; never with the token. */
const explain =
  (env: CliEnv, permission: string) =>
  (error: UsageCallError): CliError => {
    switch (error._tag) {
      case "InvalidToken":
        return operationError("the auth service refused your token (unknown, revoked or expired): check IBEX_TOKEN")
      case "InsufficientPermissions":
        return operationError(`permission denied: your token lacks ${permission}`)
      case "OrgAccessDenied":
        return operationError("permission denied: a PAT acts only in its own org")
      case "ResourceNotFound":
        return operationError("your token's org no longer exists")
      case "ValidationFailed":
        return usageError("the auth service rejected the request as invalid")
      case "ServiceDegraded":
        return operationError(
          `the auth service at ${env.authTarget} did not answer: is it running (npm start)? Set AUTH_GRPC_TARGET to its host:port`
        )
    }
  }

/** Runs `body` with the UsageService client on AUTH_GRPC_TARGET and the caller's PAT. */
export const withUsageClient = <A>(
  flag: Option.Option<Redacted.Redacted<string>>,
  permission: string,
  body: (client: typeof UsageClient.Service, bearer: Redacted.Redacted<string>) => Effect.Effect<A, UsageCallError>
): Effect.Effect<A, CliError> =>
  Effect.gen(function* () {
    const env = yield* cliEnv
    const bearer = yield* bearerFrom(flag, env)
    const tls = yield* grpcTls(env)
    return yield* Effect.flatMap(UsageClient, (client) => body(client, bearer)).pipe(
      Effect.mapError(explain(env, permission)),
      Effect.provide(UsageClientLive({ target: env.authTarget, tls })),
      Effect.scoped
    )
  })

/** Integer micro-USD as USD with 6 decimals, exactly (no floating point). */
export const usd = (microUsd: number): string => {
  const sign = microUsd < 0 ? "-" : ""
  const abs = BigInt(Math.abs(Math.trunc(microUsd)))
  return `${sign}${abs / 1_000_000n}.${(abs % 1_000_000n).toString().padStart(6, "0")}`
}

/** `12`, `12.5`, `0.000001` USD → micro-USD, exactly; more than 6 decimals or a negative is refused. */
export const parseUsd = (flag: string, raw: string): Effect.Effect<number, CliError> => {
  const m = /^(\d{1,10})(?:\.(\d{1,6}))?$/.exec(raw.trim())
  if (m === null)
    return Effect.fail(usageError(`${flag} must be an amount in USD with at most 6 decimals, e.g. 50 or 12.345678`))
  return Effect.succeed(Number(m[1]) * 1_000_000 + Number((m[2] ?? "").padEnd(6, "0")))
}

const datePattern = /^\d{4}-\d{2}-\d{2}$/

/**
 * A point in time for `--since` / `--until`: a date (`2025-03-01`, 00:00 UTC), an ISO 8601 time
 * with its offset (`2025-03-01T12:00:00Z`), or a duration ago (`7d`, `12h`, `90m`).
 */
export const parseInstant = (flag: string, raw: string, now: number): Effect.Effect<Date, CliError> => {
  const text = raw.trim()
  if (datePattern.test(text)) {
    const d = new Date(`${text}T00:00:00.000Z`)
    if (!Number.isNaN(d.getTime()) && d.toISOString().startsWith(text)) return Effect.succeed(d)
  } else if (/^\d{4}-\d{2}-\d{2}T/.test(text) && /(Z|[+-]\d{2}:\d{2})$/.test(text)) {
    const d = new Date(text)
    if (!Number.isNaN(d.getTime())) return Effect.succeed(d)
  } else if (/^\d/.test(text)) {
    return durationArg(text).pipe(
      Effect.map((d) => new Date(now - Duration.toMillis(d))),
      Effect.mapError(() => invalidInstant(flag, text))
    )
  }
  return Effect.fail(invalidInstant(flag, text))
}

const invalidInstant = (flag: string, text: string) =>
  usageError(
    `${flag} must be a date (2025-03-01, UTC), an ISO time with its offset (2025-03-01T12:00:00Z) or a duration ago (7d, 12h); got "${text.slice(0, 40)}"`
  )
