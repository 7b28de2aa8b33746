import { randomBytes, randomUUID } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { AuthConfig, authServicesOnDatabase } from "@ibex/app-auth"
import { ProxyAuthGatewayLive } from "@ibex/app-proxy"
import {
  AuthClient,
  AuthGatewayGrpc,
  AuthGrpcServer,
  AuthGrpcServerLive,
  type AuthServerServices,
  ensureDevCertificates,
  readTlsFiles,
  type TlsMaterial
} from "@ibex/auth-adapter-grpc"
import { jsonLoggerTo, type OrgId, type RateLimiter, type TokenId, TokenStore } from "@ibex/domain"
import { migrationsKey, runMigrations } from "@ibex/persistence-pg"
import { defaultAuthorizationCacheOptions, ProxyConfig, ProxyHttpLive, ProxyServer } from "@ibex/proxy-adapter-http"
import { RateLimiterRedis } from "@ibex/ratelimit-redis"
import {
  authServicesMemory,
  type FixtureServices,
  RateLimiterMemory,
  RateLimiterMemoryControl,
  setupTwoOrgs,
  type TestOrgContext
} from "@ibex/testkit"
import { type FaultProxy, faultProxy, freePort, urlThrough } from "@ibex/testkit/faults"
import { type ProvisionedDatabase, provisionDatabase } from "@ibex/testkit/provision"
import type { SecurityEnvironment, WireOrg } from "@ibex/testkit/security"
import { NoForwarding, UsageLedgerEmpty } from "@ibex/testkit/upstream"
import { ConfigProvider, Effect, Exit, Layer, ManagedRuntime, Option, Redacted, Scope } from "effect"

/** Auth answers within this in the matrix; the 50 ms production budget has its own test (failure injection). */
export const MATRIX_AUTH_DEADLINE_MS = 1_000
export const DEFAULT_RATE_LIMIT = 60

const toWire = (o: TestOrgContext): WireOrg => ({
  orgId: o.orgId,
  agentId: o.agentId,
  agents: o.agents,
  tokens: {
    full: { id: o.tokens.full.info.id, token: Redacted.value(o.tokens.full.token) },
    readOnly: { id: o.tokens.readOnly.info.id, token: Redacted.value(o.tokens.readOnly.token) },
    chatOnly: { id: o.tokens.chatOnly.info.id, token: Redacted.value(o.tokens.chatOnly.token) },
    noPermissions: { id: o.tokens.noPermissions.info.id, token: Redacted.value(o.tokens.noPermissions.token) },
    revoked: { id: o.tokens.revoked.info.id, token: Redacted.value(o.tokens.revoked.token) },
    expired: { id: o.tokens.expired.info.id, token: Redacted.value(o.tokens.expired.token) }
  }
})

interface LimiterControl {
  readonly stop: () => Promise<void>
  readonly start: () => Promise<void>
}

/** A way to revoke that the proxy's auth instance is not told about (see `SecurityEnvironment.revokeElsewhere`). */
interface Elsewhere {
  readonly revoke: (org: WireOrg, tokenId: string) => Promise<void>
  readonly close: () => Promise<void>
}

interface EnvironmentParts<E> {
  readonly name: string
  /** Everything auth runs on, plus what the fixtures need. */
  readonly services: Layer.Layer<AuthServerServices | FixtureServices, E>
  readonly elsewhere: {
    readonly path: string
    readonly start: (context: {
      readonly services: ManagedRuntime.ManagedRuntime<AuthServerServices | FixtureServices, E>
      /** The environment's log capture: every log line of an extra instance is checked too. */
      readonly logger: Layer.Layer<never>
    }) => Promise<Elsewhere>
  }
  readonly limiter: Layer.Layer<RateLimiter>
  readonly limiterControl: (proxy: ManagedRuntime.ManagedRuntime<never, unknown>) => LimiterControl
  readonly authDeadlineMs: number
  /** The proxy's failed-authentication budget per client address (default: production's). */
  readonly authFailuresPerMinute?: number | undefined
  /** Mutual TLS between the proxy and auth (the real environment runs it, as production does). */
  readonly tls?: { readonly server: TlsMaterial; readonly proxy: TlsMaterial } | undefined
  readonly cleanup: () => Promise<void>
}

export interface EnvironmentOptions {
  readonly authDeadlineMs?: number
  /** 0 turns the per-address budget off, for tests that measure auth itself under a flood of refusals. */
  readonly authFailuresPerMinute?: number
}

/**
 * Both environments: the real gRPC auth server on a fixed loopback port (so it can be stopped
 * and started again under a running proxy) over the environment's services, and the real HTTP
 * proxy dialling it. Every log line of both is captured.
 */
const assemble = async <E>(parts: EnvironmentParts<E>): Promise<SecurityEnvironment> => {
  const lines: Array<string> = []
  const logger = jsonLoggerTo((line) => {
    lines.push(line)
  })
  const services = ManagedRuntime.make(parts.services.pipe(Layer.provide(logger)))
  await services.runtime()
  const port = await freePort()
  let authScope: Scope.CloseableScope | undefined
  const startAuth = async () => {
    if (authScope !== undefined) return
    const scope = Effect.runSync(Scope.make())
    await services.runPromise(
      Layer.buildWithScope(
        AuthGrpcServerLive({ host: "127.0.0.1", port, shutdownTimeoutMs: 200, tls: parts.tls?.server }),
        scope
      )
    )
    authScope = scope
  }
  const stopAuth = async () => {
    const scope = authScope
    authScope = undefined
    if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
  }
  await startAuth()

  const proxyLayer = ProxyHttpLive.pipe(
    Layer.provideMerge(
      Layer.mergeAll(
        // The production composition: the proxy's authorization cache in front of the gRPC gateway.
        ProxyAuthGatewayLive(
          { target: `127.0.0.1:${port}`, deadlineMs: parts.authDeadlineMs, tls: parts.tls?.proxy },
          {
            ...defaultAuthorizationCacheOptions,
            failuresPerMinute: parts.authFailuresPerMinute ?? defaultAuthorizationCacheOptions.failuresPerMinute
          }
        ),
        parts.limiter,
        NoForwarding,
        ProxyConfig.layer({
          port: 0,
          host: "127.0.0.1",
          defaultRateLimitPerMinute: DEFAULT_RATE_LIMIT,
          processMetrics: false
        })
      )
    ),
    Layer.provide(logger)
  )
  const proxy = ManagedRuntime.make(proxyLayer)
  const server = await proxy.runPromise(ProxyServer)
  const limiter = parts.limiterControl(proxy as ManagedRuntime.ManagedRuntime<never, unknown>)
  const elsewhere = await parts.elsewhere.start({ services, logger })

  return {
    name: parts.name,
    proxyUrl: () => server.url,
    setupTwoOrgs: async (options = {}) => {
      const orgs = await services.runPromise(setupTwoOrgs(options))
      return { orgA: toWire(orgs.orgA), orgB: toWire(orgs.orgB) }
    },
    revokeToken: async (org, tokenId) => {
      await proxy.runPromise(
        Effect.flatMap(AuthClient, (client) => client.revokeToken(Redacted.make(org.tokens.full.token), tokenId))
      )
    },
    revokeElsewhere: elsewhere.revoke,
    revokeElsewherePath: parts.elsewhere.path,
    stopAuth,
    startAuth,
    stopRateLimiter: limiter.stop,
    startRateLimiter: limiter.start,
    logLines: () => lines,
    close: async () => {
      await proxy.dispose()
      await elsewhere.close()
      await stopAuth()
      await services.dispose()
      await parts.cleanup()
    }
  }
}

/** (a) In-memory adapters behind the real HTTP proxy and the real gRPC auth server. */
export const memoryEnvironment = (options: EnvironmentOptions = {}): Promise<SecurityEnvironment> =>
  assemble({
    name: "memory",
    services: authServicesMemory(),
    elsewhere: {
      path: "TokenStore.revoke in the shared in-memory store → in-memory feed → eviction",
      start: async ({ services }) => ({
        revoke: async (org, tokenId) => {
          const revoked = await services.runPromise(
            Effect.flatMap(TokenStore, (store) => store.revoke(org.orgId as OrgId, tokenId as TokenId))
          )
          if (Option.isNone(revoked)) throw new Error("revokeElsewhere: the token is not in the org")
        },
        close: async () => {}
      })
    },
    limiter: RateLimiterMemory,
    limiterControl: (proxy) => {
      const set = (available: boolean) =>
        (proxy as ManagedRuntime.ManagedRuntime<RateLimiterMemoryControl, unknown>).runPromise(
          Effect.flatMap(RateLimiterMemoryControl, (c) => c.setAvailable(available))
        )
      return { stop: () => set(false), start: () => set(true) }
    },
    authDeadlineMs: options.authDeadlineMs ?? MATRIX_AUTH_DEADLINE_MS,
    authFailuresPerMinute: options.authFailuresPerMinute,
    cleanup: async () => {}
  })

export const realInfrastructure = {
  available: process.env.DATABASE_URL !== undefined && process.env.REDIS_URL !== undefined,
  skipReason: "real-stack security suite needs DATABASE_URL (Postgres) and REDIS_URL (Redis); CI sets both"
}

const authConfigForTests = Effect.runSync(Effect.withConfigProvider(AuthConfig, ConfigProvider.fromMap(new Map())))

export interface RealEnvironment extends SecurityEnvironment {
  readonly database: ProvisionedDatabase
  /** The TCP fault proxy between auth and Postgres: stop it and auth's store calls fail. */
  readonly postgresLink: FaultProxy
}

/** (b) The real stack: PostgreSQL (fresh database) + Redis + gRPC auth + HTTP proxy. */
export const realEnvironment = async (options: EnvironmentOptions = {}): Promise<RealEnvironment> => {
  const database = await provisionDatabase({
    migrations: { key: migrationsKey(), migrate: (url) => runMigrations(url) }
  })
  const dbUrl = new URL(database.appUrl)
  const postgresLink = await faultProxy(dbUrl.hostname, Number(dbUrl.port || 5432))
  const redisUrl = new URL(process.env.REDIS_URL ?? "redis://127.0.0.1:6379")
  const redisLink = await faultProxy(redisUrl.hostname, Number(redisUrl.port || 6379))
  const keyPrefix = `ibex:rl:sec-${randomUUID().slice(0, 8)}:`
  // Every auth instance of one deployment shares the pepper (page tokens are signed with it).
  const pepper = Redacted.make(randomBytes(32).toString("base64url"))
  // The proxy reaches auth over mutual TLS, with certificates as `npm start` issues them.
  const tlsDir = mkdtempSync(join(tmpdir(), "ibex-sec-tls-"))
  const certs = await ensureDevCertificates(tlsDir)
  const env = await assemble({
    name: "real",
    tls: {
      server: readTlsFiles(certs.auth),
      proxy: { ...readTlsFiles(certs.proxy), serverName: "localhost" }
    },
    services: authServicesOnDatabase(
      authConfigForTests,
      { url: Redacted.make(urlThrough(database.appUrl, postgresLink)), appRole: database.appRole, maxConnections: 8 },
      pepper
    ),
    elsewhere: {
      path: "RevokeToken on a second auth instance → Postgres NOTIFY → the proxy's auth instance's feed → eviction",
      // A second auth instance as production composes one (its own pool, token cache, agent
      // cache and LISTEN connection) with its own gRPC server, on the same database, straight to
      // Postgres (not through `postgresLink`, which belongs to the proxy's instance).
      start: async ({ logger }) => {
        const peer = ManagedRuntime.make(
          Layer.unwrapEffect(
            Effect.map(AuthGrpcServer, (s) => AuthGatewayGrpc({ target: s.address, deadlineMs: 5_000 }))
          ).pipe(
            Layer.provideMerge(AuthGrpcServerLive({ host: "127.0.0.1", port: 0, shutdownTimeoutMs: 200 })),
            Layer.provideMerge(
              authServicesOnDatabase(
                authConfigForTests,
                { url: Redacted.make(database.appUrl), appRole: database.appRole, maxConnections: 2 },
                pepper
              )
            ),
            Layer.provide(logger)
          )
        )
        await peer.runtime()
        return {
          revoke: async (org, tokenId) => {
            await peer.runPromise(
              Effect.flatMap(AuthClient, (client) => client.revokeToken(Redacted.make(org.tokens.full.token), tokenId))
            )
          },
          close: () => peer.dispose()
        }
      }
    },
    // 250 ms per Redis command here: the shared 2-core machine is loaded during CI; the 25 ms
    // production default is covered by the limiter's own tests.
    limiter: RateLimiterRedis({
      url: urlThrough(redisUrl.toString(), redisLink),
      keyPrefix,
      commandTimeoutMs: 250,
      cooldownMs: 200
    }).pipe(Layer.provide(UsageLedgerEmpty)),
    limiterControl: () => ({ stop: redisLink.stop, start: redisLink.start }),
    authDeadlineMs: options.authDeadlineMs ?? MATRIX_AUTH_DEADLINE_MS,
    authFailuresPerMinute: options.authFailuresPerMinute,
    cleanup: async () => {
      await redisLink.close()
      await postgresLink.close()
      await database.drop()
      rmSync(tlsDir, { recursive: true, force: true })
    }
  })
  return { ...env, database, postgresLink }
}
