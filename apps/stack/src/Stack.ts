import { resolve } from "node:path"
import {
  AUTH_VERSION,
  AuthAdminHttp,
  AuthAdminHttpLive,
  type AuthConfig,
  type AuthHttpConfig,
  authServiceOnDatabase,
  IamAdminHandlersLive
} from "@ibex/app-auth"
import { defaultRoutingConfig, type ProxyAppConfig, ProxyServiceLive, RoutingFromConfig } from "@ibex/app-proxy"
import { AuthGrpcServer, SecretHasherArgon2 } from "@ibex/auth-adapter-grpc"
import { bootstrapPlatformAdmin } from "@ibex/auth-core"
import { Routing, SecureRandomWebCrypto } from "@ibex/domain"
import { startMockUpstream } from "@ibex/mock-upstream"
import {
  appUrlFromOwnerUrl,
  defaultDataDir,
  migrate,
  PgClientLive,
  type PgConnectionConfig,
  type SeedResult,
  StoresLive,
  seedDev,
  startEmbedded
} from "@ibex/persistence-pg"
import { ProxyServer } from "@ibex/proxy-adapter-http"
import { Context, Data, Effect, Layer, Option, Redacted } from "effect"

/**
 * The whole product in one process: the database (DATABASE_URL's Postgres, or the embedded
 * PGlite), migrations, the dev seed, the auth gRPC service and the proxy in front of it. This is
 * what `npm start` runs; the two services still talk over loopback gRPC exactly as when they
 * run apart.
 */
export interface StackInfo {
  readonly proxyUrl: string
  readonly authAddress: string
  /** The auth service's /health, /ready and /metrics. */
  readonly authAdminUrl: string
  /** The web console (served by the auth service's admin listener). */
  readonly consoleUrl: string
  /** The first platform admin, on the first start only (its password is shown once). */
  readonly operator: { readonly email: string; readonly password: Redacted.Redacted<string> } | null
  readonly database: "postgres" | "embedded"
  readonly dataDir: string | null
  readonly seed: SeedResult
  readonly rateLimiter: "redis" | "memory"
  /** Where chat requests go: the routing source and the models it serves. */
  readonly routing: { readonly source: string; readonly models: ReadonlyArray<string> }
  /** The local mock provider, when the embedded default routes to it (no routing source, no provider key). */
  readonly mockUpstreamUrl: string | null
}

export class StackStartFailed extends Data.TaggedError("StackStartFailed")<{ readonly message: string }> {}

export class Stack extends Context.Tag("@ibex/app-stack/Stack")<Stack, StackInfo>() {}

export interface StackOptions {
  readonly auth: AuthConfig
  readonly authHttp: AuthHttpConfig
  readonly proxy: ProxyAppConfig
  /** Mint another dev PAT at start (the first run always mints one). */
  readonly newToken?: boolean
}

const database = (auth: AuthConfig) =>
  Effect.gen(function* () {
    const dataDir = resolve(Option.getOrElse(auth.dataDir, defaultDataDir))
    if (Option.isNone(auth.pepper)) return yield* new StackStartFailed({ message: "IBEX_TOKEN_PEPPER is not set" })
    const pepper = auth.pepper.value
    if (Option.isSome(auth.databaseUrl)) {
      const owner = Redacted.value(auth.databaseUrl.value)
      yield* migrate(owner)
      const app: PgConnectionConfig = {
        url: Option.getOrElse(auth.databaseAppUrl, () => Redacted.make(appUrlFromOwnerUrl(owner))),
        appRole: null
      }
      return { kind: "postgres" as const, app, pepper, dataDir: null, endpoint: undefined }
    }
    const embedded = yield* startEmbedded({ dataDir })
    return {
      kind: "embedded" as const,
      app: embedded.app,
      pepper,
      dataDir: embedded.dataDir,
      endpoint: embedded.dataDir === null ? undefined : { dataDir: embedded.dataDir, ownerUrl: embedded.ownerUrl }
    }
  })

export const StackLive = (options: StackOptions) =>
  Layer.unwrapScoped(
    Effect.gen(function* () {
      const db = yield* database(options.auth)
      const hasher = SecretHasherArgon2(options.auth.argon2)
      const seedDatabase = seedDev(options.newToken ? { newToken: true } : {}).pipe(
        Effect.provide(
          Layer.mergeAll(StoresLive, hasher, SecureRandomWebCrypto).pipe(Layer.provideMerge(PgClientLive(db.app)))
        )
      )
      const auth = AuthAdminHttpLive({ ...options.authHttp, version: AUTH_VERSION }).pipe(
        Layer.provide(IamAdminHandlersLive(options.authHttp)),
        Layer.provideMerge(authServiceOnDatabase(options.auth, db.app, db.pepper, { embeddedEndpoint: db.endpoint }))
      )
      // No routing source and no provider key: a newcomer's first request still gets a real
      // forwarded completion, from the local mock provider (model "ibex-mock").
      const routing = options.proxy.routing
      const wantsMock =
        Option.isNone(routing.file) &&
        Option.isNone(routing.nats) &&
        defaultRoutingConfig(routing.embedded, undefined) === undefined
      const mock = wantsMock
        ? yield* Effect.acquireRelease(
            Effect.tryPromise({
              try: () => startMockUpstream({ host: "127.0.0.1", port: 0, maxRecorded: 100 }),
              catch: (e) => new StackStartFailed({ message: `mock upstream: ${String(e)}` })
            }),
            (m) => Effect.promise(() => m.close())
          )
        : undefined
      const routingLayer = RoutingFromConfig(routing, mock === undefined ? {} : { mockUpstreamUrl: mock.url })
      // The proxy dials the auth server's bound address (port 0 in tests resolves here).
      const proxy = Layer.unwrapEffect(
        Effect.map(AuthGrpcServer, (server) =>
          ProxyServiceLive({ ...options.proxy, authTarget: server.address }, routingLayer)
        )
      )
      const info = Layer.effect(
        Stack,
        Effect.gen(function* () {
          const server = yield* AuthGrpcServer
          const http = yield* ProxyServer
          const admin = yield* AuthAdminHttp
          const routes = yield* Routing
          const [status, table] = yield* Effect.all([routes.status, routes.table])
          // Seeded only once every server listens: a start that fails before (a port in use)
          // has minted no PAT, so the next start mints and shows one; a PAT is never stored
          // without its plaintext having been printed.
          const seed = yield* seedDatabase
          // The first start's platform admin (none exists yet): its password is printed once.
          const operator = yield* bootstrapPlatformAdmin()
          return {
            proxyUrl: http.url,
            authAddress: server.address,
            authAdminUrl: admin.url,
            consoleUrl: `${admin.url}/console/`,
            operator: Option.getOrNull(
              Option.map(operator, (o) => ({ email: o.operator.email, password: o.password }))
            ),
            database: db.kind,
            dataDir: db.dataDir,
            seed,
            rateLimiter: Option.isSome(options.proxy.redisUrl) ? "redis" : "memory",
            routing: { source: status.source, models: [...table.models.keys()] },
            mockUpstreamUrl: mock?.url ?? null
          } satisfies StackInfo
        })
      )
      return info.pipe(Layer.provideMerge(proxy), Layer.provideMerge(auth))
    })
  )
