import type { EnvVar } from "@ibex/app-common"
import { defaultArgon2Options } from "@ibex/auth-adapter-grpc"
import { defaultInvalidationHubOptions, defaultTokenValidatorOptions } from "@ibex/auth-core"
import { DEFAULT_FEED_HEARTBEAT_MS, DEFAULT_FEED_STALE_AFTER_MS } from "@ibex/persistence-pg"
import { Config, ConfigError, Either, LogLevel, Option, Redacted } from "effect"

/**
 * Every environment variable the auth service reads, in one place: `authEnvVars` documents
 * them (for docs and a test that checks documented == read), `AuthConfig` reads them.
 */
export type AuthEnvVar = EnvVar

export const authEnvVars: ReadonlyArray<AuthEnvVar> = [
  { name: "AUTH_GRPC_HOST", default: "127.0.0.1", secret: false, description: "Interface the gRPC server binds." },
  { name: "AUTH_GRPC_PORT", default: "9091", secret: false, description: "gRPC port (0: any free port)." },
  {
    name: "DATABASE_URL",
    default: null,
    secret: true,
    description:
      "Postgres owner URL. Unset: the embedded PGlite (data in IBEX_DATA_DIR) is started and migrated in-process."
  },
  {
    name: "DATABASE_APP_URL",
    default: null,
    secret: true,
    description: "The app role's URL (default: DATABASE_URL with user ibex_app and no password)."
  },
  {
    name: "DATABASE_PLATFORM_URL",
    default: null,
    secret: true,
    description:
      "The platform role's URL, for org operations of the PlatformAdminService (default: DATABASE_URL with user ibex_platform and no password)."
  },
  {
    name: "IBEX_DATA_DIR",
    default: ".ibex/pgdata",
    secret: false,
    description: "Embedded PGlite data folder; the generated token pepper is kept next to it (token-pepper)."
  },
  {
    name: "IBEX_TOKEN_PEPPER",
    default: null,
    secret: true,
    description:
      "Server pepper of the token cache digest (HMAC-SHA256), at least 32 bytes. Required with DATABASE_URL; embedded: generated once and kept."
  },
  {
    name: "ARGON2_MEMORY_KIB",
    default: String(defaultArgon2Options.memoryKib),
    secret: false,
    description: "Argon2id memory cost of new token hashes (KiB)."
  },
  {
    name: "ARGON2_TIME_COST",
    default: String(defaultArgon2Options.timeCost),
    secret: false,
    description: "Argon2id iterations of new token hashes."
  },
  {
    name: "ARGON2_PARALLELISM",
    default: String(defaultArgon2Options.parallelism),
    secret: false,
    description: "Argon2id lanes of new token hashes."
  },
  {
    name: "AUTH_CACHE_TTL_MS",
    default: String(defaultTokenValidatorOptions.ttlMs),
    secret: false,
    description: "Hard TTL of a verified token in the validation cache (backstop behind push revocation)."
  },
  {
    name: "AUTH_CACHE_MAX_ENTRIES",
    default: String(defaultTokenValidatorOptions.maxEntries),
    secret: false,
    description: "Bound of the validation cache."
  },
  {
    name: "AUTH_INVALIDATION_HEARTBEAT_MS",
    default: "25",
    secret: false,
    description:
      "Heartbeat interval of the invalidation stream to the proxies, sent only while this instance's change feed is proven alive."
  },
  {
    name: "AUTH_FEED_HEARTBEAT_MS",
    default: "25",
    secret: false,
    description: "How often the change feed's LISTEN connection proves itself alive (a NOTIFY it must hear back)."
  },
  {
    name: "AUTH_FEED_STALE_AFTER_MS",
    default: "100",
    secret: false,
    description:
      "With no echo for this long the change feed is untrusted: caches are dropped and proxies stop trusting theirs."
  },

  { name: "LOG_LEVEL", default: "Info", secret: false, description: "Minimum log level (Trace … Fatal, None)." },
  {
    name: "AUTH_HTTP_HOST",
    default: "127.0.0.1",
    secret: false,
    description: "Interface the admin HTTP server (/health, /ready, /metrics) binds."
  },
  { name: "AUTH_HTTP_PORT", default: "9092", secret: false, description: "Admin HTTP port (0: any free port)." },
  {
    name: "AUTH_SESSION_KEYS",
    default: null,
    secret: true,
    description:
      "Operator access-token signing keys, `kid:secret,kid:secret` (secrets >= 32 bytes): the first signs, all verify (rotation). Unset: one key derived from the token pepper."
  },
  {
    name: "AUTH_ACCESS_TTL_SECONDS",
    default: "900",
    secret: false,
    description: "Lifetime of an operator's access token (the ibex_session cookie)."
  },
  {
    name: "AUTH_REFRESH_TTL_SECONDS",
    default: "2592000",
    secret: false,
    description: "Lifetime of an operator's refresh token (rotated on every use)."
  },
  {
    name: "IBEX_CONSOLE_URL",
    default: null,
    secret: false,
    description: "Base of the links mailed to operators (reset, invitation). Default: the admin listener's /console/."
  },
  {
    name: "IBEX_MAIL",
    default: "log",
    secret: false,
    description: "How operator mails go out: log (development: one log line with the link) or smtp (SMTP_*)."
  },
  { name: "SMTP_HOST", default: null, secret: false, description: "SMTP server (IBEX_MAIL=smtp)." },
  { name: "SMTP_PORT", default: "587", secret: false, description: "SMTP port." },
  {
    name: "SMTP_SECURE",
    default: "false",
    secret: false,
    description: "true: TLS from the first byte (port 465); false: STARTTLS when offered."
  },
  { name: "SMTP_USER", default: null, secret: false, description: "SMTP user name (unset: no authentication)." },
  { name: "SMTP_PASSWORD", default: null, secret: true, description: "SMTP password." },
  { name: "MAIL_FROM", default: "IBEX <no-reply@ibex.local>", secret: false, description: "Sender of operator mails." },
  {
    name: "OTEL_EXPORTER_OTLP_ENDPOINT",
    default: null,
    secret: false,
    description:
      "OTLP/HTTP collector base URL (traces to /v1/traces, metrics to /v1/metrics). Unset: nothing is exported; trace ids still flow."
  },
  {
    name: "OTEL_SERVICE_NAME",
    default: "ibex-auth",
    secret: false,
    description: "service.name of exported telemetry."
  },
  {
    name: "OTEL_RESOURCE_ATTRIBUTES",
    default: null,
    secret: false,
    description: "Extra resource attributes of exported telemetry (key=value,key=value; read by @effect/opentelemetry)."
  }
]

export interface AuthConfig {
  readonly host: string
  readonly port: number
  readonly databaseUrl: Option.Option<Redacted.Redacted<string>>
  readonly databaseAppUrl: Option.Option<Redacted.Redacted<string>>
  readonly databasePlatformUrl: Option.Option<Redacted.Redacted<string>>
  readonly dataDir: Option.Option<string>
  readonly pepper: Option.Option<Redacted.Redacted<string>>
  readonly argon2: { readonly memoryKib: number; readonly timeCost: number; readonly parallelism: number }
  readonly cacheTtlMs: number
  readonly cacheMaxEntries: number
  readonly invalidationHeartbeatMs: number
  readonly feedHeartbeatMs: number
  readonly feedStaleAfterMs: number
  readonly logLevel: LogLevel.LogLevel
}

// Config.validate sits directly on the variable (before withDefault) so its error keeps the
// variable's name, which the startup line reports (apps/common startup.ts).
const positiveInt = (name: string, fallback: number, min = 1) =>
  Config.integer(name).pipe(
    Config.validate({ message: `${name} must be an integer >= ${min}`, validation: (n) => n >= min }),
    Config.withDefault(fallback)
  )

const MIN_PEPPER_BYTES = 32

export const AuthConfig: Config.Config<AuthConfig> = Config.all({
  host: Config.string("AUTH_GRPC_HOST").pipe(Config.withDefault("127.0.0.1")),
  port: Config.integer("AUTH_GRPC_PORT").pipe(
    Config.validate({
      message: "AUTH_GRPC_PORT must be 0..65535 (0: any free port)",
      validation: (n) => n >= 0 && n <= 65535
    }),
    Config.withDefault(9091)
  ),
  databaseUrl: Config.option(
    Config.redacted("DATABASE_URL").pipe(
      // Named explicitly: a validation over a redacted value loses the variable's path.
      Config.mapOrFail((r) =>
        Redacted.value(r) === ""
          ? Either.left(ConfigError.InvalidData(["DATABASE_URL"], "DATABASE_URL is empty"))
          : Either.right(r)
      )
    )
  ),
  databaseAppUrl: Config.option(Config.redacted("DATABASE_APP_URL")),
  databasePlatformUrl: Config.option(Config.redacted("DATABASE_PLATFORM_URL")),
  dataDir: Config.option(Config.string("IBEX_DATA_DIR")),
  pepper: Config.option(Config.redacted("IBEX_TOKEN_PEPPER")),
  argon2: Config.all({
    memoryKib: positiveInt("ARGON2_MEMORY_KIB", defaultArgon2Options.memoryKib, 8),
    timeCost: positiveInt("ARGON2_TIME_COST", defaultArgon2Options.timeCost),
    parallelism: positiveInt("ARGON2_PARALLELISM", defaultArgon2Options.parallelism)
  }),
  cacheTtlMs: positiveInt("AUTH_CACHE_TTL_MS", defaultTokenValidatorOptions.ttlMs, 0),
  cacheMaxEntries: positiveInt("AUTH_CACHE_MAX_ENTRIES", defaultTokenValidatorOptions.maxEntries),
  invalidationHeartbeatMs: positiveInt(
    "AUTH_INVALIDATION_HEARTBEAT_MS",
    defaultInvalidationHubOptions.heartbeatIntervalMs
  ),
  feedHeartbeatMs: positiveInt("AUTH_FEED_HEARTBEAT_MS", DEFAULT_FEED_HEARTBEAT_MS),
  feedStaleAfterMs: positiveInt("AUTH_FEED_STALE_AFTER_MS", DEFAULT_FEED_STALE_AFTER_MS),
  logLevel: Config.logLevel("LOG_LEVEL").pipe(Config.withDefault(LogLevel.Info))
}).pipe(
  Config.mapOrFail((config) => {
    if (Option.isSome(config.databaseUrl) && Option.isNone(config.pepper))
      return Either.left(
        ConfigError.MissingData(["IBEX_TOKEN_PEPPER"], "IBEX_TOKEN_PEPPER is required with DATABASE_URL")
      )
    if (Option.isSome(config.pepper) && Buffer.byteLength(Redacted.value(config.pepper.value)) < MIN_PEPPER_BYTES)
      return Either.left(
        ConfigError.InvalidData(["IBEX_TOKEN_PEPPER"], `IBEX_TOKEN_PEPPER must be at least ${MIN_PEPPER_BYTES} bytes`)
      )
    return Either.right(config)
  })
)

/** The admin HTTP server's settings (AUTH_HTTP_HOST, AUTH_HTTP_PORT) and the IAM API's; telemetry is `telemetryConfig`. */
export interface AuthHttpConfig {
  readonly host: string
  readonly port: number
  readonly iam?: IamHttpSettings | undefined
}

export interface IamHttpSettings {
  readonly sessionKeys: Option.Option<Redacted.Redacted<string>>
  readonly accessTtlSeconds: number
  readonly refreshTtlSeconds: number
  readonly consoleUrl: Option.Option<string>
  readonly mail:
    | { readonly kind: "log" }
    | {
        readonly kind: "smtp"
        readonly host: string
        readonly port: number
        readonly secure: boolean
        readonly user: Option.Option<string>
        readonly password: Option.Option<Redacted.Redacted<string>>
        readonly from: string
      }
}

export const IamHttpSettings: Config.Config<IamHttpSettings> = Config.all({
  sessionKeys: Config.option(Config.redacted("AUTH_SESSION_KEYS")),
  accessTtlSeconds: positiveInt("AUTH_ACCESS_TTL_SECONDS", 900, 30),
  refreshTtlSeconds: positiveInt("AUTH_REFRESH_TTL_SECONDS", 30 * 24 * 3600, 60),
  consoleUrl: Config.option(Config.string("IBEX_CONSOLE_URL")),
  mailKind: Config.literal("log", "smtp")("IBEX_MAIL").pipe(Config.withDefault("log" as const)),
  smtpHost: Config.option(Config.string("SMTP_HOST")),
  smtpPort: positiveInt("SMTP_PORT", 587),
  smtpSecure: Config.boolean("SMTP_SECURE").pipe(Config.withDefault(false)),
  smtpUser: Config.option(Config.string("SMTP_USER")),
  smtpPassword: Config.option(Config.redacted("SMTP_PASSWORD")),
  mailFrom: Config.string("MAIL_FROM").pipe(Config.withDefault("IBEX <no-reply@ibex.local>"))
}).pipe(
  Config.mapOrFail((c) => {
    if (c.mailKind === "smtp" && Option.isNone(c.smtpHost))
      return Either.left(ConfigError.MissingData(["SMTP_HOST"], "SMTP_HOST is required with IBEX_MAIL=smtp"))
    return Either.right({
      sessionKeys: c.sessionKeys,
      accessTtlSeconds: c.accessTtlSeconds,
      refreshTtlSeconds: c.refreshTtlSeconds,
      consoleUrl: c.consoleUrl,
      mail:
        c.mailKind === "log"
          ? ({ kind: "log" } as const)
          : ({
              kind: "smtp",
              host: Option.getOrElse(c.smtpHost, () => ""),
              port: c.smtpPort,
              secure: c.smtpSecure,
              user: c.smtpUser,
              password: c.smtpPassword,
              from: c.mailFrom
            } as const)
    } satisfies IamHttpSettings)
  })
)

export const AuthHttpConfig: Config.Config<AuthHttpConfig> = Config.all({
  host: Config.string("AUTH_HTTP_HOST").pipe(Config.withDefault("127.0.0.1")),
  port: Config.integer("AUTH_HTTP_PORT").pipe(
    Config.validate({ message: "AUTH_HTTP_PORT must be 0..65535", validation: (n) => n >= 0 && n <= 65535 }),
    Config.withDefault(9092)
  ),
  iam: IamHttpSettings
})
