import { Args, Command, Options } from "@effect/cli"
import { SecretHasherArgon2 } from "@ibex/auth-adapter-grpc"
import { BOOTSTRAP_EMAIL, bootstrapPlatformAdmin, issuePlatformAdmin, revokePlatformAdmin } from "@ibex/auth-core"
import {
  isPlausibleEmail,
  normalizeEmail,
  type PlatformActor,
  type PlatformAdmin,
  type PlatformAdminId,
  PlatformAdminStore,
  SecureRandomWebCrypto
} from "@ibex/domain"
import { type DatabaseTarget, IamStoresLive, PgClientLive, PlatformAdminStoreLive } from "@ibex/persistence-pg"
import { Effect, Layer, Option, Redacted } from "effect"
import { cliEnv, handled, jsonOption, withSubcommandsNamed } from "../common.js"
import { openDatabase, unreachable } from "../database.js"
import { emit, iso, operationError, table, usageError } from "../output.js"
import { AuditLogStderr, safeUser } from "../platform.js"
import { nameArg, uuidArg } from "../validate.js"

/**
 * Platform-admin credentials (`ibex_padm_<uuid>_<secret>`): minted, listed and revoked by the
 * database owner only (DATABASE_URL's user, or the embedded folder / the running stack's socket),
 * never over an API. Rotation: create a new one, switch your automation to it, revoke the old one
 * (refused from the next call: credentials are not cached).
 */

const adminJson = (admin: PlatformAdmin) => ({
  id: admin.id,
  name: admin.name,
  created_at: admin.createdAt.toISOString(),
  revoked_at: admin.revokedAt?.toISOString() ?? null
})

/** The credential store on an owner connection (the app role has no grant on the table). */
const asOwner = <A, E>(
  body: (actor: PlatformActor) => Effect.Effect<A, E, Layer.Layer.Success<ReturnType<typeof ownerServices>>>
) =>
  Effect.gen(function* () {
    const env = yield* cliEnv
    const target = yield* openDatabase(env)
    return yield* body({ kind: "database_owner", name: safeUser() }).pipe(
      Effect.provide(ownerServices(target.ownerUrl))
    )
  }).pipe(Effect.scoped)

const ownerServices = (ownerUrl: Redacted.Redacted<string>) =>
  PlatformAdminStoreLive.pipe(
    Layer.provide(PgClientLive({ url: ownerUrl, appRole: null, maxConnections: 1, applicationName: "ibex-cli" })),
    Layer.merge(Layer.mergeAll(SecretHasherArgon2(), SecureRandomWebCrypto, AuditLogStderr))
  )

const createCommand = Command.make(
  "create",
  {
    json: jsonOption,
    name: Options.text("name").pipe(
      Options.withPseudoName("name"),
      Options.withDescription("Who or what will use it, e.g. ops-automation (1 to 128 characters).")
    )
  },
  ({ json, name }) =>
    handled(
      json,
      Effect.gen(function* () {
        const label = yield* nameArg("--name", name, 128)
        const issued = yield* asOwner((actor) => issuePlatformAdmin(actor, label)).pipe(
          Effect.catchTags({
            StoreUnavailable: () => Effect.fail(unreachable()),
            ValidationFailed: () => Effect.fail(usageError("--name must be 1 to 128 characters"))
          })
        )
        yield* emit(json, { credential: Redacted.value(issued.credential), ...adminJson(issued.admin) }, () => [
          `Created platform-admin credential ${issued.admin.id} "${issued.admin.name}"`,
          "",
          "Platform-admin credential (shown once: only its Argon2id hash is stored). Use it as IBEX_ADMIN_TOKEN",
          "or as `authorization: Bearer …` on ibex.auth.v1.PlatformAdminService:",
          `  ${Redacted.value(issued.credential)}`
        ])
      })
    )
).pipe(Command.withDescription("Mint a platform-admin credential (database owner only); printed once."))

const listCommand = Command.make("list", { json: jsonOption }, ({ json }) =>
  handled(
    json,
    Effect.gen(function* () {
      const admins = yield* asOwner(() => Effect.flatMap(PlatformAdminStore, (s) => s.list)).pipe(
        Effect.catchTag("StoreUnavailable", () => Effect.fail(unreachable()))
      )
      yield* emit(json, { credentials: admins.map(adminJson) }, () =>
        admins.length === 0
          ? ["No platform-admin credentials."]
          : table(
              ["ID", "STATE", "CREATED", "REVOKED", "NAME"],
              admins.map((a) => [
                a.id,
                a.revokedAt === null ? "active" : "revoked",
                a.createdAt.toISOString(),
                iso(a.revokedAt),
                a.name
              ])
            )
      )
    })
  )
).pipe(Command.withDescription("List platform-admin credentials (metadata only; never a secret or a hash)."))

const revokeCommand = Command.make(
  "revoke",
  {
    json: jsonOption,
    id: Args.text({ name: "credential-id" }).pipe(Args.withDescription("The credential's id (UUID)."))
  },
  ({ json, id }) =>
    handled(
      json,
      Effect.gen(function* () {
        const adminId = yield* uuidArg<PlatformAdminId>("credential-id", id)
        const revoked = yield* asOwner((actor) => revokePlatformAdmin(actor, adminId)).pipe(
          Effect.catchTags({
            StoreUnavailable: () => Effect.fail(unreachable()),
            ResourceNotFound: () => Effect.fail(operationError(`no platform-admin credential ${adminId}`))
          })
        )
        yield* emit(json, adminJson(revoked), () => [
          `Revoked platform-admin credential ${revoked.id} "${revoked.name}" at ${iso(revoked.revokedAt)}`
        ])
      })
    )
).pipe(Command.withDescription("Revoke a platform-admin credential: refused from its next call."))

const credentialCommand = Command.make("credential").pipe(
  Command.withDescription(
    withSubcommandsNamed(
      "Platform-admin credentials (ibex_padm_…), distinct from any org's PAT. Rotate: create a new one, switch to it, revoke the old one.",
      "admin credential",
      [createCommand, listCommand, revokeCommand]
    )
  ),
  Command.withSubcommands([createCommand, listCommand, revokeCommand])
)

/** The console's first platform admin, on the stores of the database the CLI opens. */
const asConsole = <A, E>(body: Effect.Effect<A, E, Layer.Layer.Success<ReturnType<typeof consoleServices>>>) =>
  Effect.gen(function* () {
    const env = yield* cliEnv
    const target = yield* openDatabase(env)
    return yield* body.pipe(Effect.provide(consoleServices(target.app)))
  }).pipe(Effect.scoped)

const consoleServices = (app: DatabaseTarget["app"]) =>
  IamStoresLive.pipe(
    Layer.provide(PgClientLive({ ...app, maxConnections: 1, applicationName: "ibex-cli" })),
    Layer.merge(Layer.mergeAll(SecretHasherArgon2(), SecureRandomWebCrypto))
  )

const bootstrapCommand = Command.make(
  "bootstrap",
  {
    json: jsonOption,
    email: Options.text("email").pipe(
      Options.withDescription(`The platform admin's e-mail (sign-in name). Default ${BOOTSTRAP_EMAIL}.`),
      Options.withDefault(BOOTSTRAP_EMAIL)
    )
  },
  ({ json, email }) =>
    handled(
      json,
      Effect.gen(function* () {
        if (!isPlausibleEmail(email)) return yield* Effect.fail(usageError("--email must be an e-mail address"))
        const created = yield* asConsole(bootstrapPlatformAdmin(normalizeEmail(email))).pipe(
          Effect.catchTag("StoreUnavailable", () => Effect.fail(unreachable()))
        )
        if (Option.isNone(created))
          return yield* emit(json, { created: false }, () => [
            "An operator exists already: nothing created. Sign in at the console, or reset a lost password (docs/OPERATIONS.md)."
          ])
        const { operator, password } = created.value
        yield* emit(
          json,
          { created: true, id: operator.id, email: operator.email, password: Redacted.value(password) },
          () => [
            `Created the console's platform admin ${operator.email} (${operator.id})`,
            "",
            "Password (shown once: only its Argon2id hash is stored). Sign in at the auth admin listener's /console/:",
            `  ${Redacted.value(password)}`
          ]
        )
      })
    )
).pipe(
  Command.withDescription(
    "Create the console's first platform admin when no operator exists yet (what `npm start` does on its first start), for auth run on its own; the password is printed once."
  )
)

const operatorCommand = Command.make("operator").pipe(
  Command.withDescription(
    withSubcommandsNamed(
      "Console operators (sign-in with e-mail, password and TOTP; docs/CONSOLE.md).",
      "admin operator",
      [bootstrapCommand]
    )
  ),
  Command.withSubcommands([bootstrapCommand])
)

export const adminCommand = Command.make("admin").pipe(
  Command.withDescription(
    withSubcommandsNamed(
      "Platform administration as the database owner (DATABASE_URL, or the embedded folder / running stack).",
      "admin",
      [credentialCommand, operatorCommand]
    )
  ),
  Command.withSubcommands([credentialCommand, operatorCommand])
)
