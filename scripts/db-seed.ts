// npm run db:seed [-- --new-token]: a dev org, a user, an active agent and a full-permission PAT.
// Prints the PAT once (only its Argon2id hash is stored). Idempotent: a second run changes
// nothing and says how to get another token. Targets DATABASE_URL's database (migrated first
// with npm run db:migrate), or the embedded PGlite when DATABASE_URL is unset.
import { Permissions, SecureRandomWebCrypto } from "@ibex/domain"
import { databaseFromEnv, PgClientLive, type SeedResult, StoresLive, seedDev } from "@ibex/persistence-pg"
import { Effect, Layer, Redacted } from "effect"
import { SecretHasherArgon2 } from "./db-argon2.js"

const newToken = process.argv.includes("--new-token")

const program = Effect.gen(function* () {
  const target = yield* databaseFromEnv()
  const services = StoresLive.pipe(
    Layer.provideMerge(PgClientLive({ ...target.app, maxConnections: 2, applicationName: "ibex-seed" })),
    Layer.merge(Layer.mergeAll(SecretHasherArgon2, SecureRandomWebCrypto))
  )
  const result = yield* seedDev({ newToken }).pipe(Effect.provide(services))
  return { result, kind: target.kind }
}).pipe(Effect.scoped)

const print = ({ result, kind }: { result: SeedResult; kind: string }) => {
  const where = kind === "embedded" ? "embedded database" : "DATABASE_URL"
  if (result.status === "already-seeded") {
    console.log(`Already seeded (${where}): org "dev" ${result.orgId}; nothing changed.`)
    if (result.userId) console.log(`  user    ${result.userId}`)
    if (result.agentId) console.log(`  agent   ${result.agentId}`)
    console.log("The PAT was printed when it was created and cannot be shown again. For a new one:")
    console.log("  npx ibex token create   or   npm run db:seed -- --new-token")
    return
  }
  console.log(result.status === "seeded" ? `Seeded (${where}):` : `New token in the seeded org (${where}):`)
  console.log(`  org     ${result.orgId}`)
  if (result.userId) console.log(`  user    ${result.userId}`)
  if (result.agentId) console.log(`  agent   ${result.agentId}`)
  if (result.token) {
    console.log(`  token   ${result.token.info.id} (${Permissions.toNames(result.token.info.permissions).join(", ")})`)
    console.log("")
    console.log("Personal access token (shown once, stored only as an Argon2id hash):")
    console.log(`  ${Redacted.value(result.token.token)}`)
  }
}

Effect.runPromise(program).then(print, (error: unknown) => {
  const tag = (error as { _tag?: string })._tag
  console.error(
    tag === "StoreUnavailable"
      ? "db:seed failed: the database is unreachable or not migrated (run npm run db:migrate first)"
      : `db:seed failed: ${error instanceof Error ? error.message : String(error)}`
  )
  process.exitCode = 1
})
