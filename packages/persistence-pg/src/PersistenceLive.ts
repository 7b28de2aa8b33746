import type { SqlClient } from "@effect/sql"
import type {
  AgentStore,
  AuditTrail,
  MembershipStore,
  OperatorStore,
  OrgLimitsStore,
  OrgStore,
  PlatformAdminStore,
  RevocationFeed,
  SessionStore,
  StoreUnavailable,
  TokenStore,
  UnitOfWork,
  UsageStore,
  UserStore
} from "@ibex/domain"
import { Effect, Layer, Redacted, type Scope } from "effect"
import { AgentStoreLive } from "./AgentStoreLive.js"
import { type EmbeddedOptions, type EmbeddedStartFailed, startEmbedded } from "./embedded.js"
import { IamStoresLive } from "./IamStoresLive.js"
import { OrgStoreLive, UserStoreLive } from "./OrgStoreLive.js"
import { appUrlFromOwnerUrl, PgClientLive, type PgConnectionConfig, type PlatformPool } from "./PgClientLive.js"
import { PlatformAdminStoreLive } from "./PlatformAdminStoreLive.js"
import { type RevocationFeedConfig, RevocationFeedLive } from "./RevocationFeedLive.js"
import { type RevocationHub, RevocationHubLive } from "./RevocationHub.js"
import { TokenStoreLive } from "./TokenStoreLive.js"
import { UnitOfWorkLive } from "./UnitOfWorkLive.js"
import { OrgLimitsStoreLive, UsageStoreLive } from "./UsageStoreLive.js"

export type PersistenceServices =
  | OperatorStore
  | SessionStore
  | MembershipStore
  | AuditTrail
  | TokenStore
  | AgentStore
  | OrgStore
  | UserStore
  | PlatformAdminStore
  | UnitOfWork
  | RevocationFeed
  | UsageStore
  | OrgLimitsStore

/**
 * The stores sharing one in-process RevocationHub, over whatever pool the caller provides
 * (`PgClientLive`: the app pool, and the platform pool the OrgStore and the UnitOfWork use). For
 * callers that need the pool themselves too (the seed).
 */
export const StoresLive: Layer.Layer<
  | TokenStore
  | AgentStore
  | OrgStore
  | UserStore
  | PlatformAdminStore
  | UnitOfWork
  | UsageStore
  | OrgLimitsStore
  | RevocationHub,
  never,
  SqlClient.SqlClient | PlatformPool
> = Layer.mergeAll(
  TokenStoreLive,
  AgentStoreLive,
  OrgStoreLive,
  UserStoreLive,
  PlatformAdminStoreLive,
  UnitOfWorkLive,
  UsageStoreLive,
  OrgLimitsStoreLive
).pipe(Layer.provideMerge(RevocationHubLive))

/**
 * Every store port on the app-role pool (the OrgStore and the UnitOfWork on the platform pool,
 * `config.platform` or derived from `config`, opened on first use), and the revocation feed on its
 * own unpooled connection, sharing one in-process RevocationHub.
 */
export const PersistenceLive = (
  config: PgConnectionConfig,
  /** The feed's settings; `url` defaults to the pool's (a test may route the LISTEN connection elsewhere). */
  feed: Partial<RevocationFeedConfig> = {}
): Layer.Layer<PersistenceServices, StoreUnavailable> =>
  Layer.mergeAll(
    TokenStoreLive,
    AgentStoreLive,
    OrgStoreLive,
    UserStoreLive,
    PlatformAdminStoreLive,
    UnitOfWorkLive,
    UsageStoreLive,
    OrgLimitsStoreLive,
    IamStoresLive,
    RevocationFeedLive({ ...feed, url: feed.url ?? config.url })
  ).pipe(Layer.provide(RevocationHubLive), Layer.provide(PgClientLive(config)))

/** Where the database is: a Postgres server given by the environment, or the embedded PGlite. */
export interface DatabaseTarget {
  readonly kind: "postgres" | "embedded"
  /** The migration / owner role's URL. */
  readonly ownerUrl: Redacted.Redacted<string>
  /** How the services connect (always as the app role). */
  readonly app: PgConnectionConfig
}

/**
 * DATABASE_URL set: that server, migrations as its user, services as DATABASE_APP_URL or, when
 * unset, the same URL with user ibex_app and no password. DATABASE_URL unset: the embedded
 * PGlite (started, migrated; stopped with the scope).
 */
export const databaseFromEnv = (
  env: Record<string, string | undefined> = process.env,
  embedded: EmbeddedOptions = {}
): Effect.Effect<DatabaseTarget, EmbeddedStartFailed, Scope.Scope> => {
  const ownerUrl = env.DATABASE_URL
  if (ownerUrl !== undefined && ownerUrl !== "") {
    const appUrl = env.DATABASE_APP_URL || appUrlFromOwnerUrl(ownerUrl)
    return Effect.succeed({
      kind: "postgres",
      ownerUrl: Redacted.make(ownerUrl),
      app: { url: Redacted.make(appUrl), appRole: null }
    })
  }
  return Effect.map(
    startEmbedded({ ...embedded, ...(env.IBEX_DATA_DIR ? { dataDir: env.IBEX_DATA_DIR } : {}) }),
    (db): DatabaseTarget => ({ kind: "embedded", ownerUrl: db.ownerUrl, app: db.app })
  )
}
