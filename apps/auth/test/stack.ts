import { randomBytes } from "node:crypto"
import { JsonLoggerLive } from "@ibex/app-common"
import { AuthGatewayGrpc, AuthGrpcServer, defaultArgon2Options, makeSecretHasherArgon2 } from "@ibex/auth-adapter-grpc"
import { SecretHasher } from "@ibex/domain"
import { migrationsKey, runMigrations } from "@ibex/persistence-pg"
import { fallbackUnlessRealInfraRequired } from "@ibex/testkit/infra"
import type { ProvisionedDatabase } from "@ibex/testkit/provision"
import { Effect, Layer, LogLevel, Option, Redacted } from "effect"
import { type AuthConfig, authServiceOnDatabase } from "../src/index.js"

export const migrations = { key: migrationsKey(), migrate: (url: string) => runMigrations(url) }
export type Backend = "postgres" | "pglite"
export const backends: ReadonlyArray<Backend> = process.env.DATABASE_URL
  ? ["postgres", "pglite"]
  : fallbackUnlessRealInfraRequired("DATABASE_URL", ["pglite"])

export const testConfig = (overrides: Partial<AuthConfig> = {}): AuthConfig => ({
  host: "127.0.0.1",
  port: 0,
  databaseUrl: Option.none(),
  databaseAppUrl: Option.none(),
  databasePlatformUrl: Option.none(),
  dataDir: Option.none(),
  pepper: Option.none(),
  argon2: defaultArgon2Options,
  cacheTtlMs: 5_000,
  cacheMaxEntries: 10_000,
  invalidationHeartbeatMs: 25,
  feedHeartbeatMs: 25,
  feedStaleAfterMs: 100,
  logLevel: LogLevel.Info,
  ...overrides
})

export const testPepper = Redacted.make(randomBytes(32).toString("base64url"))

/** The real Argon2id hasher with call counters. */
export const countingArgon2 = () => {
  const calls = { hash: 0, verify: 0 }
  const inner = makeSecretHasherArgon2()
  const layer = Layer.succeed(
    SecretHasher,
    SecretHasher.of({
      hash: (s) =>
        Effect.suspend(() => {
          calls.hash += 1
          return inner.hash(s)
        }),
      verify: (h, s) =>
        Effect.suspend(() => {
          calls.verify += 1
          return inner.verify(h, s)
        })
    })
  )
  return { calls, layer }
}

/**
 * One auth instance exactly as production composes it (persistence on the provisioned
 * database, Argon2id, HMAC digest, JSON audit log, caching validator, gRPC server on a free
 * port) with the production JSON logger, plus an AuthGateway/AuthClient aimed at it.
 */
export const authInstance = (db: ProvisionedDatabase, hasher: Layer.Layer<SecretHasher>) => {
  const server = authServiceOnDatabase(
    testConfig(),
    { url: Redacted.make(db.appUrl), appRole: db.appRole, maxConnections: db.kind === "pglite" ? 4 : 10 },
    testPepper,
    { hasher, port: 0, shutdownTimeoutMs: 1_000 }
  )
  const client = Layer.unwrapEffect(
    Effect.map(AuthGrpcServer, (s) => AuthGatewayGrpc({ target: s.address, deadlineMs: 2_000 }))
  )
  return client.pipe(Layer.provideMerge(server), Layer.provide(JsonLoggerLive))
}
