import { SecureRandomWebCrypto } from "@ibex/domain"
import { SecretHasherMemory } from "@ibex/testkit"
import { fallbackUnlessRealInfraRequired } from "@ibex/testkit/infra"
import { type ProvisionedDatabase, type ProvisionOptions, provisionedDatabase } from "@ibex/testkit/provision"
import { Effect, Layer, Redacted } from "effect"
import { migrationsKey, runMigrations } from "../src/migrate.js"
import { PersistenceLive } from "../src/PersistenceLive.js"
import { PgClientLive, type PgConnectionConfig } from "../src/PgClientLive.js"
import { newPgClient, type PgRawClient } from "../src/pg.js"

/** This package's migration set, handed to testkit's provisioning (testkit does not import adapters). */
export const migrations = { key: migrationsKey(), migrate: (url: string) => runMigrations(url) }

export type Backend = NonNullable<ProvisionOptions["backend"]>

/** The backends this run covers: the default (DATABASE_URL's server, else PGlite) and PGlite when that is not already it. */
export const backends: ReadonlyArray<Backend> = process.env.DATABASE_URL
  ? ["postgres", "pglite"]
  : fallbackUnlessRealInfraRequired("DATABASE_URL", ["pglite"])

export const provision = (backend: Backend) => provisionedDatabase({ migrations, backend })

export const appConfig = (db: ProvisionedDatabase, maxConnections?: number): PgConnectionConfig => ({
  url: Redacted.make(db.appUrl),
  appRole: db.appRole,
  maxConnections: maxConnections ?? (db.kind === "pglite" ? 4 : 10)
})

/** Every store on a fresh provisioned database (dropped when the layer is released), plus the fixtures' hasher and randomness. */
export const provisionedStores = (backend: Backend) =>
  Layer.unwrapScoped(
    Effect.map(provision(backend), (db) =>
      Layer.mergeAll(PersistenceLive(appConfig(db)), SecretHasherMemory, SecureRandomWebCrypto)
    )
  )

/** The pool layer alone on a provisioned database, with the database itself for raw access. */
export const provisionedPool = (db: ProvisionedDatabase, maxConnections?: number) =>
  PgClientLive(appConfig(db, maxConnections))

/** A raw client, closed by the caller. */
export const rawClient = async (url: string, applicationName = "ibex-test"): Promise<PgRawClient> => {
  const client = newPgClient({ connectionString: url, application_name: applicationName })
  client.on("error", () => {})
  await client.connect()
  return client
}
