import { type EnvVar, grpcTlsConfig, grpcTlsEnvVars } from "@ibex/app-common"
import { DEFAULT_DEADLINE_MS, type TlsMaterial } from "@ibex/auth-adapter-grpc"
import {
  type AuthorizationCacheOptions,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_RATE_LIMIT_PER_MINUTE,
  defaultAuthorizationCacheOptions,
  type ProxyConfigInput,
  proxyConfigFromEnv
} from "@ibex/proxy-adapter-http"
import { Config, LogLevel, type Option, type Redacted } from "effect"
import { RoutingSourceConfig, routingEnvVars } from "./routingSource.js"

/** Every environment variable the proxy reads (docs/CONFIGURATION.md is checked against this list). */
export const proxyEnvVars: ReadonlyArray<EnvVar> = [
  { name: "PROXY_HOST", default: "0.0.0.0", secret: false, description: "Interface the HTTP server binds." },
  { name: "PROXY_PORT", default: "8080", secret: false, description: "HTTP port (0: any free port)." },
  {
    name: "PROXY_MAX_BODY_BYTES",
    default: String(DEFAULT_MAX_BODY_BYTES),
    secret: false,
    description: "Largest request body; larger answers 413 before any auth call."
  },
  {
    name: "RATE_LIMIT_DEFAULT_RPM",
    default: String(DEFAULT_RATE_LIMIT_PER_MINUTE),
    secret: false,
    description: "Requests per minute for an org whose record sets no limit."
  },
  {
    name: "PROXY_ADMIN_PORT",
    default: null,
    secret: false,
    description: "A second listener for /health, /ready and /metrics (0: any free port). Unset: none."
  },
  { name: "PROXY_ADMIN_HOST", default: "127.0.0.1", secret: false, description: "Interface of the admin listener." },
  {
    name: "PROXY_OPS_ON_MAIN_PORT",
    default: null,
    secret: false,
    description:
      "Whether /ready and /metrics stay on the main port too. Default: true without PROXY_ADMIN_PORT, false with it."
  },
  {
    name: "PROXY_DRAIN_TIMEOUT_MS",
    default: "30000",
    secret: false,
    description:
      "On SIGTERM: how long requests and streams in flight may finish after /ready turns 503 and the listener closes."
  },
  {
    name: "PROXY_REQUEST_ID_HEADER",
    default: "X-Request-ID",
    secret: false,
    description: "Name of the request id header."
  },
  { name: "PROXY_TRACE_ID_HEADER", default: "X-Trace-ID", secret: false, description: "Name of the trace id header." },
  {
    name: "PROXY_RESPONSE_TIME_HEADER",
    default: "X-Response-Time",
    secret: false,
    description: "Name of the response time header."
  },
  {
    name: "PROXY_AGENT_ID_HEADER",
    default: "X-IBEX-Agent-ID",
    secret: false,
    description: "Name of the agent id header."
  },
  {
    name: "AUTH_GRPC_TARGET",
    default: "127.0.0.1:9091",
    secret: false,
    description: "The auth service's gRPC address (host:port)."
  },
  ...grpcTlsEnvVars({
    certVar: "PROXY_TLS_CERT_FILE",
    keyVar: "PROXY_TLS_KEY_FILE",
    who: "this proxy's client certificate for auth; it must carry the SAN URI:spiffe://ibex/proxy",
    client: true
  }),
  {
    name: "AUTH_TIMEOUT_MS",
    default: String(DEFAULT_DEADLINE_MS),
    secret: false,
    description: "Deadline of each ValidateToken / VerifyAgent call; past it the proxy fails closed (503)."
  },
  {
    name: "REDIS_URL",
    default: null,
    secret: true,
    description: "Redis for the per-org rate limiter. Unset: an in-process limiter (one proxy instance only)."
  },
  {
    name: "REDIS_COMMAND_TIMEOUT_MS",
    default: "25",
    secret: false,
    description: "Budget of one limiter call before failing open."
  },
  {
    name: "REDIS_LEASE_MAX_UNITS",
    default: "64",
    secret: false,
    description:
      "Units one limiter call may take for an org whose limit is at least 120,000/min, admitted without a round trip (docs/SECURITY.md, leases). 1: off."
  },
  { name: "LOG_LEVEL", default: "Info", secret: false, description: "Minimum log level (Trace … Fatal, None)." },
  {
    name: "OTEL_EXPORTER_OTLP_ENDPOINT",
    default: null,
    secret: false,
    description:
      "OTLP/HTTP collector base URL (traces to /v1/traces, metrics to /v1/metrics). Unset: nothing is exported; trace ids still flow."
  },
  {
    name: "OTEL_SERVICE_NAME",
    default: "ibex-proxy",
    secret: false,
    description: "service.name of exported telemetry."
  },
  {
    name: "OTEL_RESOURCE_ATTRIBUTES",
    default: null,
    secret: false,
    description: "Extra resource attributes of exported telemetry (key=value,key=value; read by @effect/opentelemetry)."
  },
  {
    name: "PROXY_AUTH_CACHE_TTL_MS",
    default: String(defaultAuthorizationCacheOptions.ttlMs),
    secret: false,
    description:
      "Hard TTL of a cached principal or agent authorization (the backstop behind auth's invalidation stream)."
  },
  {
    name: "PROXY_AUTH_CACHE_NEGATIVE_TTL_MS",
    default: String(defaultAuthorizationCacheOptions.negativeTtlMs),
    secret: false,
    description: "How long a refused token or agent is refused without asking auth."
  },
  {
    name: "PROXY_AUTH_CACHE_STALE_IF_ERROR_MS",
    default: String(defaultAuthorizationCacheOptions.staleIfErrorMs),
    secret: false,
    description:
      "How long past its TTL a cached authorization may still answer when auth gives no answer while its stream is heard from (0: never)."
  },
  {
    name: "PROXY_AUTH_FIRST_LOOKUP_TIMEOUT_MS",
    default: String(defaultAuthorizationCacheOptions.firstLookupDeadlineMs),
    secret: false,
    description:
      "Deadline of the Authorize call for a token the cache holds no usable answer for (its first use costs auth an Argon2id verification); past it 503. Other calls keep AUTH_TIMEOUT_MS."
  },
  {
    name: "PROXY_AUTH_CACHE_MAX_ENTRIES",
    default: String(defaultAuthorizationCacheOptions.maxEntries),
    secret: false,
    description: "Bound of each of the proxy's authorization caches (principals, refusals, agent verdicts)."
  },
  {
    name: "PROXY_AUTH_STALE_AFTER_MS",
    default: String(defaultAuthorizationCacheOptions.staleAfterMs),
    secret: false,
    description:
      "The cache is used only while auth's invalidation stream was heard from this recently; otherwise every request asks auth."
  },
  {
    name: "PROXY_AUTH_RECONNECT_AFTER_MS",
    default: String(defaultAuthorizationCacheOptions.reconnectAfterMs),
    secret: false,
    description: "A silent invalidation stream is abandoned and opened again after this long."
  },
  {
    name: "PROXY_AUTH_FAILURES_PER_MINUTE",
    default: String(defaultAuthorizationCacheOptions.failuresPerMinute),
    secret: false,
    description:
      "Failed authentications one client address may cause per minute (burst as many); beyond it, 429 AUTH_FAILURES_THROTTLED before auth is asked. 0: no limit."
  },
  {
    name: "PROXY_METRICS_ORG_LABEL",
    default: "false",
    secret: false,
    description: "Per-org token and cost counters on /metrics (one series per tenant: mind the cardinality)."
  },
  {
    name: "PROXY_MAX_CONNECTIONS",
    default: "10000",
    secret: false,
    description: "Open connections the main listener accepts at once; more are closed on arrival."
  },
  {
    name: "PROXY_HEADERS_TIMEOUT_MS",
    default: "10000",
    secret: false,
    description: "How long a client may take to send a request's headers."
  },
  {
    name: "PROXY_REQUEST_TIMEOUT_MS",
    default: "30000",
    secret: false,
    description: "How long a client may take to send a whole request, body included (not the answer, not a stream)."
  },
  {
    name: "PROXY_USAGE_BUFFER_MAX",
    default: "200000",
    secret: false,
    description:
      "Usage records held while auth is unreachable (shipped in batches, retried); past it new ones are dropped, counted and logged."
  },
  ...routingEnvVars
]

export interface ProxyAppConfig {
  readonly http: ProxyConfigInput
  readonly authTarget: string
  /** Mutual TLS to auth (the proxy's certificate); unset: plaintext. Read by ProxyTlsConfig, not ProxyAppConfig. */
  readonly authTls?: TlsMaterial | undefined
  readonly authTimeoutMs: number
  readonly redisUrl: Option.Option<Redacted.Redacted<string>>
  readonly redisCommandTimeoutMs: number
  readonly redisLeaseMaxUnits: number
  readonly authCache: AuthorizationCacheOptions
  readonly logLevel: LogLevel.LogLevel
  readonly routing: RoutingSourceConfig
  readonly usageBufferMax: number
}

// Config.validate sits directly on the variable (before withDefault) so its error keeps the
// variable's name, which the startup line reports (apps/common startup.ts).
const positiveInt = (name: string, fallback: number) =>
  Config.integer(name).pipe(
    Config.validate({ message: `${name} must be a positive integer`, validation: (n) => n > 0 }),
    Config.withDefault(fallback)
  )

const nonNegativeInt = (name: string, fallback: number) =>
  Config.integer(name).pipe(
    Config.validate({ message: `${name} must be an integer ≥ 0`, validation: (n) => n >= 0 }),
    Config.withDefault(fallback)
  )

export const ProxyAppConfig: Config.Config<ProxyAppConfig> = Config.all({
  http: proxyConfigFromEnv,
  authTarget: Config.string("AUTH_GRPC_TARGET").pipe(
    Config.validate({ message: "AUTH_GRPC_TARGET must be host:port", validation: (s) => /^[^\s:]+:\d{1,5}$/.test(s) }),
    Config.withDefault("127.0.0.1:9091")
  ),
  authTimeoutMs: positiveInt("AUTH_TIMEOUT_MS", DEFAULT_DEADLINE_MS),
  redisUrl: Config.option(Config.redacted("REDIS_URL")),
  redisCommandTimeoutMs: positiveInt("REDIS_COMMAND_TIMEOUT_MS", 25),
  redisLeaseMaxUnits: positiveInt("REDIS_LEASE_MAX_UNITS", 64),
  authCache: Config.all({
    ttlMs: positiveInt("PROXY_AUTH_CACHE_TTL_MS", defaultAuthorizationCacheOptions.ttlMs),
    negativeTtlMs: positiveInt("PROXY_AUTH_CACHE_NEGATIVE_TTL_MS", defaultAuthorizationCacheOptions.negativeTtlMs),
    maxEntries: positiveInt("PROXY_AUTH_CACHE_MAX_ENTRIES", defaultAuthorizationCacheOptions.maxEntries),
    staleAfterMs: positiveInt("PROXY_AUTH_STALE_AFTER_MS", defaultAuthorizationCacheOptions.staleAfterMs),
    reconnectAfterMs: positiveInt("PROXY_AUTH_RECONNECT_AFTER_MS", defaultAuthorizationCacheOptions.reconnectAfterMs),
    failuresPerMinute: nonNegativeInt(
      "PROXY_AUTH_FAILURES_PER_MINUTE",
      defaultAuthorizationCacheOptions.failuresPerMinute
    ),
    refreshDeadlineMs: Config.succeed(defaultAuthorizationCacheOptions.refreshDeadlineMs),
    firstLookupDeadlineMs: positiveInt(
      "PROXY_AUTH_FIRST_LOOKUP_TIMEOUT_MS",
      defaultAuthorizationCacheOptions.firstLookupDeadlineMs
    ),
    staleIfErrorMs: nonNegativeInt(
      "PROXY_AUTH_CACHE_STALE_IF_ERROR_MS",
      defaultAuthorizationCacheOptions.staleIfErrorMs
    )
  }),
  logLevel: Config.logLevel("LOG_LEVEL").pipe(Config.withDefault(LogLevel.Info)),
  routing: RoutingSourceConfig,
  usageBufferMax: positiveInt("PROXY_USAGE_BUFFER_MAX", 200_000)
})

/**
 * The proxy's mutual TLS to auth (issue 14 item 1): PROXY_TLS_CERT_FILE, PROXY_TLS_KEY_FILE and
 * IBEX_TLS_CA_FILE (AUTH_TLS_SERVER_NAME optional), or plaintext only with AUTH_GRPC_INSECURE=true.
 * Read by apps/proxy's main only: `npm start` issues its own development certificates.
 */
export const ProxyTlsConfig = grpcTlsConfig("PROXY_TLS_CERT_FILE", "PROXY_TLS_KEY_FILE", {
  required: true,
  client: true,
  role: "proxy"
})
