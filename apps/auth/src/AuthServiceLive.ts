import { randomBytes } from "node:crypto"
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import {
  AuditLogJson,
  AuthGrpcServerLive,
  SecretHasherArgon2,
  ServerStartFailed,
  type TlsMaterial,
  TokenDigestHmac
} from "@ibex/auth-adapter-grpc"
import {
  AgentVerifierLive,
  defaultAgentVerifierOptions,
  defaultTokenValidatorOptions,
  InvalidationHubLive,
  TokenValidatorLive
} from "@ibex/auth-core"
import { type SecretHasher, SecureRandomWebCrypto } from "@ibex/domain"
import {
  appUrlFromOwnerUrl,
  defaultDataDir,
  PersistenceLive,
  type PgConnectionConfig,
  PLATFORM_ROLE,
  startEmbedded
} from "@ibex/persistence-pg"
import { Effect, Layer, Option, Redacted } from "effect"
import type { AuthConfig } from "./config.js"
import { StackEndpointLive, type StackEndpointOptions } from "./StackEndpointLive.js"

export interface AuthServiceOptions {
  /** Replace the Argon2id hasher (tests that count hasher calls). */
  readonly hasher?: Layer.Layer<SecretHasher> | undefined
  /** Where the change feed's LISTEN connection goes (tests route it through a fault proxy); default the pool's URL. */
  readonly feedUrl?: Redacted.Redacted<string> | undefined
  /** Override the gRPC port (tests: 0). */
  readonly port?: number | undefined
  readonly shutdownTimeoutMs?: number | undefined
  /** Embedded mode: record how to reach this service in the data folder while it runs (StackEndpointLive). */
  readonly embeddedEndpoint?: StackEndpointOptions | undefined
  /** Mutual TLS of the gRPC server (issue 14 item 1); unset: plaintext. */
  readonly tls?: TlsMaterial | undefined
}

/**
 * Everything the auth service runs on, without the gRPC server: persistence (store ports on
 * the app-role pool, revocation feed on its own LISTEN connection), the Argon2id hasher, the
 * HMAC digest, the JSON audit log, the caching TokenValidator and AgentVerifier, and the hub
 * that streams invalidations and heartbeats to the proxies. Tests and the security suite
 * build this once and start / stop the server over it.
 */
export const authServicesOnDatabase = (
  config: AuthConfig,
  database: PgConnectionConfig,
  pepper: Redacted.Redacted<string>,
  options: Pick<AuthServiceOptions, "hasher" | "feedUrl"> = {}
) => {
  const ports = Layer.mergeAll(
    PersistenceLive(database, {
      heartbeatMs: config.feedHeartbeatMs,
      staleAfterMs: config.feedStaleAfterMs,
      ...(options.feedUrl === undefined ? {} : { url: options.feedUrl })
    }),
    options.hasher ?? SecretHasherArgon2(config.argon2),
    TokenDigestHmac(pepper),
    AuditLogJson,
    SecureRandomWebCrypto
  )
  const validator = TokenValidatorLive({
    ...defaultTokenValidatorOptions,
    ttlMs: config.cacheTtlMs,
    maxEntries: config.cacheMaxEntries
  })
  return Layer.mergeAll(
    validator,
    AgentVerifierLive({ ...defaultAgentVerifierOptions, ttlMs: config.cacheTtlMs }),
    InvalidationHubLive({ heartbeatIntervalMs: config.invalidationHeartbeatMs })
  ).pipe(Layer.provideMerge(ports))
}

/** The auth service on an already-known database: its services plus the gRPC server over them. */
export const authServiceOnDatabase = (
  config: AuthConfig,
  database: PgConnectionConfig,
  pepper: Redacted.Redacted<string>,
  options: AuthServiceOptions = {}
) => {
  const server = AuthGrpcServerLive({
    host: config.host,
    port: options.port ?? config.port,
    shutdownTimeoutMs: options.shutdownTimeoutMs,
    tls: options.tls
  }).pipe(Layer.provideMerge(authServicesOnDatabase(config, database, pepper, options)))
  return options.embeddedEndpoint === undefined
    ? server
    : StackEndpointLive(options.embeddedEndpoint).pipe(Layer.provideMerge(server))
}

const PEPPER_FILE = "token-pepper"

/** The embedded default's pepper: read from next to the data folder, or generated (0600) on first start. */
const embeddedPepper = (dataDir: string | null) =>
  Effect.sync(() => {
    if (dataDir === null) return Redacted.make(randomBytes(32).toString("base64url"))
    const file = join(dirname(dataDir), PEPPER_FILE)
    if (existsSync(file)) return Redacted.make(readFileSync(file, "utf8").trim())
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(file, `${randomBytes(32).toString("base64url")}\n`, { mode: 0o600, flag: "wx" })
    chmodSync(file, 0o600)
    return Redacted.make(readFileSync(file, "utf8").trim())
  })

/**
 * The auth service from its configuration: DATABASE_URL's Postgres (services connect as
 * DATABASE_APP_URL or the ibex_app role; migrations are run beforehand with `npm run db:migrate`),
 * or, when unset, the embedded PGlite, started and migrated in-process and stopped with the layer.
 */
export const AuthServiceLive = (config: AuthConfig, options: AuthServiceOptions = {}) =>
  Layer.unwrapScoped(
    Effect.gen(function* () {
      if (Option.isSome(config.databaseUrl)) {
        const owner = Redacted.value(config.databaseUrl.value)
        const app = Option.getOrElse(config.databaseAppUrl, () => Redacted.make(appUrlFromOwnerUrl(owner)))
        // The PlatformAdminService's org operations: as ibex_platform, never as the tenant-serving ibex_app.
        const platform = Option.getOrElse(config.databasePlatformUrl, () =>
          Redacted.make(appUrlFromOwnerUrl(owner, PLATFORM_ROLE))
        )
        if (Option.isNone(config.pepper))
          return yield* new ServerStartFailed({ message: "IBEX_TOKEN_PEPPER is required with DATABASE_URL" })
        yield* Effect.logInfo({ event: "auth_database", kind: "postgres" })
        return authServiceOnDatabase(
          config,
          { url: app, appRole: null, platform: { url: platform, appRole: null, maxConnections: 2 } },
          config.pepper.value,
          options
        )
      }
      const dataDir = resolve(Option.getOrElse(config.dataDir, defaultDataDir))
      const embedded = yield* startEmbedded({ dataDir })
      const pepper = Option.isSome(config.pepper) ? config.pepper.value : yield* embeddedPepper(embedded.dataDir)
      yield* Effect.logInfo({ event: "auth_database", kind: "embedded", data_dir: embedded.dataDir })
      return authServiceOnDatabase(config, embedded.app, pepper, {
        ...options,
        ...(embedded.dataDir === null
          ? {}
          : { embeddedEndpoint: { dataDir: embedded.dataDir, ownerUrl: embedded.ownerUrl } })
      })
    })
  )
