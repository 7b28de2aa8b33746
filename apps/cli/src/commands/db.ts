import { Command, Options } from "@effect/cli"
import { SecretHasherArgon2 } from "@ibex/auth-adapter-grpc"
import { Permissions, SecureRandomWebCrypto } from "@ibex/domain"
import { type SeedResult, seedDev } from "@ibex/persistence-pg"
import { Effect, Layer, Redacted } from "effect"
import { cliEnv, handled, jsonOption, withSubcommandsNamed } from "../common.js"
import { openDatabase, runMigrationsFor, storesOn, unreachable } from "../database.js"
import { emit } from "../output.js"

const migrateCommand = Command.make("migrate", { json: jsonOption }, ({ json }) =>
  handled(
    json,
    Effect.gen(function* () {
      const env = yield* cliEnv
      const lines: Array<string> = []
      const { report, where } = yield* runMigrationsFor(env, (line) => lines.push(line))
      yield* emit(
        json,
        {
          target: where,
          applied: report.applied,
          already_applied: report.alreadyApplied,
          duration_ms: report.durationMs
        },
        () => [
          `Migrating ${where}`,
          ...lines.map((l) => `  ${l}`),
          report.applied.length === 0
            ? `Up to date (${report.alreadyApplied} migrations applied earlier), ${report.durationMs} ms`
            : `Applied ${report.applied.length} migration(s) in ${report.durationMs} ms`
        ]
      )
    })
  )
).pipe(
  Command.withDescription(
    "Apply the numbered migrations (forward-only, idempotent) to DATABASE_URL, or to the embedded PGlite data folder (IBEX_DATA_DIR) when DATABASE_URL is unset."
  )
)

const seedJson = (result: SeedResult, where: string) => ({
  target: where,
  status: result.status,
  org_id: result.orgId,
  user_id: result.userId,
  agent_id: result.agentId,
  token:
    result.token === null
      ? null
      : {
          pat: Redacted.value(result.token.token),
          id: result.token.info.id,
          name: result.token.info.name,
          permissions: Permissions.toNames(result.token.info.permissions)
        }
})

const seedHuman = (result: SeedResult, where: string): Array<string> => {
  const out: Array<string> = []
  if (result.status === "already-seeded") {
    out.push(`Already seeded (${where}): org "dev" ${result.orgId}; nothing changed.`)
    if (result.userId) out.push(`  user    ${result.userId}`)
    if (result.agentId) out.push(`  agent   ${result.agentId}`)
    out.push("The PAT was printed when it was created and cannot be shown again. For a new one:")
    out.push("  npx ibex token create   or   npm run db:seed -- --new-token")
    return out
  }
  out.push(result.status === "seeded" ? `Seeded (${where}):` : `New token in the seeded org (${where}):`)
  out.push(`  org     ${result.orgId}`)
  if (result.userId) out.push(`  user    ${result.userId}`)
  if (result.agentId) out.push(`  agent   ${result.agentId}`)
  if (result.token) {
    out.push(
      `  token   ${result.token.info.id} (${Permissions.toNames(result.token.info.permissions).join(", ")})`,
      "",
      "Personal access token (shown once, stored only as an Argon2id hash; it cannot be shown again):",
      `  ${Redacted.value(result.token.token)}`
    )
  }
  return out
}

const seedCommand = Command.make(
  "seed",
  {
    json: jsonOption,
    newToken: Options.boolean("new-token").pipe(
      Options.withDescription("Mint another full-permission PAT in the seeded org (seeding it first if needed).")
    )
  },
  ({ json, newToken }) =>
    handled(
      json,
      Effect.gen(function* () {
        const env = yield* cliEnv
        const target = yield* openDatabase(env)
        const where = target.kind === "embedded" ? "embedded database" : "DATABASE_URL"
        const services = storesOn(target).pipe(Layer.merge(Layer.mergeAll(SecretHasherArgon2(), SecureRandomWebCrypto)))
        const result = yield* seedDev({ newToken }).pipe(
          Effect.provide(services),
          Effect.mapError(() => unreachable())
        )
        yield* emit(json, seedJson(result, where), () => seedHuman(result, where))
      }).pipe(Effect.scoped)
    )
).pipe(
  Command.withDescription(
    'Development seed: org "dev", a user, an active agent and a full-permission PAT (printed once). Idempotent; --new-token mints another PAT.'
  )
)

export const dbCommand = Command.make("db").pipe(
  Command.withDescription(
    withSubcommandsNamed("Database administration, directly on DATABASE_URL or the embedded PGlite.", "db", [
      migrateCommand,
      seedCommand
    ])
  ),
  Command.withSubcommands([migrateCommand, seedCommand])
)
