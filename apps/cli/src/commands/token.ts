import { Args, Command, Options } from "@effect/cli"
import {
  AuthClient,
  AuthClientLive,
  type AuthProto,
  type ManagementError,
  tokenInfoToWire
} from "@ibex/auth-adapter-grpc"
import { Permissions, type TokenId } from "@ibex/domain"
import { Clock, Duration, Effect, Option, Redacted } from "effect"
import { cliEnv, grpcTls, handled, jsonOption, withSubcommandsNamed } from "../common.js"
import type { CliEnv } from "../config.js"
import { type CliError, emit, iso, operationError, table, usageError } from "../output.js"
import { platform } from "../platform.js"
import { durationArg, nameArg, permissionsArg, uuidArg } from "../validate.js"

const AUTH_NOTE =
  "Over gRPC to the auth service (AUTH_GRPC_TARGET, default 127.0.0.1:9091), as the caller's PAT (--token or IBEX_TOKEN), in the caller's own org. With --org <id or name>: as a platform admin in that org (directly on the database as its owner, or through the PlatformAdminService with IBEX_ADMIN_TOKEN or a running embedded stack), audited with the acting admin."

const orgOption = Options.text("org").pipe(
  Options.withPseudoName("org"),
  Options.withDescription("Act as a platform admin in this org (id or exact name) instead of your PAT's own org."),
  Options.optional
)

const tokenOption = Options.redacted("token").pipe(
  Options.withPseudoName("pat"),
  Options.withDescription("Your PAT (prefer the IBEX_TOKEN variable: command lines show up in ps and shell history)."),
  Options.optional
)

const bearerFrom = (flag: Option.Option<Redacted.Redacted<string>>, env: CliEnv) =>
  Option.orElse(flag, () => env.token).pipe(
    Option.match({
      onNone: () => Effect.fail(usageError("missing token: set IBEX_TOKEN (or pass --token) to a PAT of your org")),
      onSome: Effect.succeed
    })
  )

/** The management errors, explained; never with the token. */
const explain =
  (env: CliEnv, operation: string) =>
  (error: ManagementError): CliError => {
    switch (error._tag) {
      case "InvalidToken":
        return operationError("the auth service refused your token (unknown, revoked or expired): check IBEX_TOKEN")
      case "InsufficientPermissions":
        return operationError(
          `permission denied: your token may not ${operation}` +
            (operation === "create tokens" ? " with these permissions (a token can only grant what it holds)" : "")
        )
      case "ResourceNotFound":
        return operationError("no such token in your org")
      case "ValidationFailed":
        return operationError("the auth service rejected the request as invalid")
      case "ServiceDegraded":
        return operationError(
          `the auth service at ${env.authTarget} did not answer: is it running (npm start)? Set AUTH_GRPC_TARGET to its host:port`
        )
    }
  }

/** A token's metadata as the CLI shows it. The proto's TokenInfo carries no secret and no hash. */
export const tokenJson = (info: AuthProto.TokenInfo | undefined) =>
  info === undefined
    ? null
    : {
        id: info.id,
        org_id: info.orgId,
        name: info.name,
        display_prefix: info.displayPrefix,
        permissions: Permissions.toNames(Permissions.unsafeFromBigInt(BigInt(info.permissions))),
        created_at: info.createdAt?.toISOString() ?? null,
        expires_at: info.expiresAt?.toISOString() ?? null,
        revoked_at: info.revokedAt?.toISOString() ?? null,
        last_used_at: info.lastUsedAt?.toISOString() ?? null,
        created_by: info.createdBy === "" ? null : info.createdBy
      }

/** The AuthClient on the configured target, with the caller's bearer. */
const withAuth = <A, E>(
  flag: Option.Option<Redacted.Redacted<string>>,
  body: (client: typeof AuthClient.Service, bearer: Redacted.Redacted<string>, env: CliEnv) => Effect.Effect<A, E>
) =>
  Effect.gen(function* () {
    const env = yield* cliEnv
    const bearer = yield* bearerFrom(flag, env)
    const tls = yield* grpcTls(env)
    return yield* Effect.flatMap(AuthClient, (client) => body(client, bearer, env)).pipe(
      Effect.provide(AuthClientLive({ target: env.authTarget, deadlineMs: 5_000, managementDeadlineMs: 15_000, tls }))
    )
  })

const createCommand = Command.make(
  "create",
  {
    json: jsonOption,
    token: tokenOption,
    name: Options.text("name").pipe(
      Options.withPseudoName("name"),
      Options.withDescription("A label for the new token (1 to 128 characters).")
    ),
    permissions: Options.text("permissions").pipe(
      Options.withPseudoName("p1,p2"),
      Options.withDescription(
        `Comma-separated permission names: ${Object.keys(Permissions.PermissionBits).join(", ")} (or "all"). At most what your token holds.`
      )
    ),
    expiresIn: Options.text("expires-in").pipe(
      Options.withPseudoName("duration"),
      Options.withDescription("Lifetime, e.g. 30d, 12h, 90m, 2w (default: never expires)."),
      Options.optional
    ),
    org: orgOption
  },
  ({ json, token, name, permissions, expiresIn, org }) =>
    handled(
      json,
      Effect.gen(function* () {
        const tokenName = yield* nameArg("--name", name, 128)
        const bitmap = yield* permissionsArg(permissions)
        const lifetime = Option.isSome(expiresIn) ? Option.some(yield* durationArg(expiresIn.value)) : Option.none()
        const now = yield* Clock.currentTimeMillis
        const expiresAt = Option.match(lifetime, {
          onNone: () => null,
          onSome: (d) => new Date(now + Duration.toMillis(d))
        })
        const created = Option.isSome(org)
          ? yield* Effect.scoped(
              Effect.flatMap(platform, (p) =>
                p.createToken(org.value, { name: tokenName, permissions: bitmap, expiresAt })
              )
            ).pipe(Effect.map((c) => ({ token: Redacted.value(c.token), info: tokenInfoToWire(c.info) })))
          : yield* withAuth(token, (client, bearer, env) =>
              client
                .createToken(bearer, { name: tokenName, permissions: bitmap, expiresAt })
                .pipe(Effect.mapError(explain(env, "create tokens")))
            )
        const info = tokenJson(created.info)
        yield* emit(json, { token: created.token, info }, () => [
          `Created token ${info?.id ?? "?"} "${info?.name ?? tokenName}"`,
          `  permissions  ${info?.permissions.join(", ") || "(none)"}`,
          `  expires      ${info?.expires_at ?? "never"}`,
          "",
          "Personal access token (shown once: it cannot be retrieved again, store it securely now):",
          `  ${created.token}`
        ])
      })
    )
).pipe(
  Command.withDescription(
    "Create a PAT in your org (gRPC), or with --org in a named org (platform admin); it is printed once."
  )
)

const listCommand = Command.make(
  "list",
  {
    json: jsonOption,
    token: tokenOption,
    pageSize: Options.integer("page-size").pipe(
      Options.withPseudoName("n"),
      Options.withDescription("Tokens per page (1 to 200; default: the server's, 50)."),
      Options.optional
    ),
    pageToken: Options.text("page-token").pipe(
      Options.withPseudoName("cursor"),
      Options.withDescription("The next-page token printed by a previous list."),
      Options.optional
    ),
    org: orgOption
  },
  ({ json, token, pageSize, pageToken, org }) =>
    handled(
      json,
      Effect.gen(function* () {
        if (Option.isSome(pageSize) && (pageSize.value < 1 || pageSize.value > 200))
          return yield* usageError("--page-size must be between 1 and 200")
        const pageArgs = {
          ...(Option.isSome(pageSize) ? { pageSize: pageSize.value } : {}),
          ...(Option.isSome(pageToken) ? { pageToken: pageToken.value } : {})
        }
        const page = Option.isSome(org)
          ? yield* Effect.scoped(Effect.flatMap(platform, (p) => p.listTokens(org.value, pageArgs))).pipe(
              Effect.map((r) => ({ tokens: r.tokens.map(tokenInfoToWire), nextPageToken: r.nextPageToken ?? "" }))
            )
          : yield* withAuth(token, (client, bearer, env) =>
              client.listTokens(bearer, pageArgs).pipe(Effect.mapError(explain(env, "list tokens")))
            )
        const tokens = page.tokens.map((t) => tokenJson(t)).filter((t) => t !== null)
        yield* emit(json, { tokens, next_page_token: page.nextPageToken === "" ? null : page.nextPageToken }, () => [
          ...(tokens.length === 0
            ? ["No tokens."]
            : table(
                ["ID", "PREFIX", "STATE", "EXPIRES", "PERMISSIONS", "NAME"],
                tokens.map((t) => [
                  t.id,
                  t.display_prefix,
                  t.revoked_at
                    ? "revoked"
                    : t.expires_at && Date.parse(t.expires_at) <= Date.now()
                      ? "expired"
                      : "active",
                  t.expires_at ?? "never",
                  t.permissions.join(",") || "-",
                  t.name
                ])
              )),
          ...(page.nextPageToken === ""
            ? []
            : [
                "",
                `More: ibex token list${Option.isSome(org) ? ` --org ${org.value}` : ""} --page-token ${page.nextPageToken}`
              ])
        ])
      })
    )
).pipe(
  Command.withDescription(
    "List your org's tokens (gRPC), or with --org a named org's (platform admin); metadata only, never a secret or a hash."
  )
)

const revokeCommand = Command.make(
  "revoke",
  {
    json: jsonOption,
    token: tokenOption,
    tokenId: Args.text({ name: "token-id" }).pipe(Args.withDescription("The id of the token to revoke (UUID).")),
    org: orgOption
  },
  ({ json, token, tokenId, org }) =>
    handled(
      json,
      Effect.gen(function* () {
        const id = yield* uuidArg<TokenId>("token-id", tokenId)
        const revoked = Option.isSome(org)
          ? yield* Effect.scoped(Effect.flatMap(platform, (p) => p.revokeToken(org.value, id))).pipe(
              Effect.map((info) => ({ info: tokenInfoToWire(info) }))
            )
          : yield* withAuth(token, (client, bearer, env) =>
              client.revokeToken(bearer, id).pipe(Effect.mapError(explain(env, "revoke tokens")))
            )
        const info = tokenJson(revoked.info)
        yield* emit(json, { info }, () => [
          `Revoked token ${info?.id ?? id} "${info?.name ?? ""}" at ${iso(revoked.info?.revokedAt)}`
        ])
      })
    )
).pipe(Command.withDescription("Revoke a token of your org (gRPC), or with --org of a named org (platform admin)."))

export const tokenCommand = Command.make("token").pipe(
  Command.withDescription(
    withSubcommandsNamed(`Personal access tokens. ${AUTH_NOTE}`, "token", [createCommand, listCommand, revokeCommand])
  ),
  Command.withSubcommands([createCommand, listCommand, revokeCommand])
)
