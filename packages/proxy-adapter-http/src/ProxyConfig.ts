import { Config, Context, type Effect, Layer, Option } from "effect"

/** One dependency /ready reports on. `check: null` reports `"disabled"` (e.g. no Redis configured). */
export interface ReadinessProbe {
  /** The key under `checks` in the /ready body, e.g. `auth_grpc`, `redis`. */
  readonly name: string
  /** Resolves true when the dependency answers; failures, defects and timeouts count as down. */
  readonly check: Effect.Effect<boolean> | null
  /**
   * Whether the instance is not ready while it is down (default true). A dependency the proxy
   * serves without (Redis: the limiter fails open) is reported, but does not take the instance
   * out of its load balancer: every instance would go at once, turning fail-open into an outage.
   */
  readonly critical?: boolean
}

/** Header names; all configurable (env PROXY_REQUEST_ID_HEADER etc.). Matching is case-insensitive. */
export interface ProxyHeaderNames {
  readonly requestId: string
  readonly traceId: string
  readonly responseTime: string
  readonly agentId: string
}

export interface ProxyConfigShape {
  /** 0 picks a free port; the bound one is on `ProxyServer`. */
  readonly port: number
  readonly host: string
  /** Request bodies above this answer 413 before any auth call. Default 1 MiB. */
  readonly maxBodyBytes: number
  /** Requests per minute for orgs whose record has no limit. Default 60. */
  readonly defaultRateLimitPerMinute: number
  readonly headers: ProxyHeaderNames
  readonly readiness: ReadonlyArray<ReadinessProbe>
  /** Budget of each readiness probe. Default 1000 ms. */
  readonly readinessTimeoutMs: number
  /** Reported by /health. */
  readonly version: string
  /** One structured log line per request. Default true. */
  readonly accessLog: boolean
  /** prom-client's process metrics on /metrics. Default true. */
  readonly processMetrics: boolean
  /**
   * Spans per request (and W3C trace context to auth). Default true; the apps turn it off when
   * nothing exports spans, so they cost nothing: X-Trace-ID is then the inbound traceparent's
   * trace id, or a random one.
   */
  readonly tracing: boolean
  /**
   * On shutdown (SIGTERM): /ready answers 503 at once, the listener stops accepting, and
   * requests and streams in flight get this long to finish before their connections are cut.
   * Default 30000.
   */
  readonly drainTimeoutMs: number
  /**
   * A second listener for operations (`/health`, `/ready`, `/metrics`), e.g. on loopback or an
   * internal interface, so they are not on the public one. Null: none (everything on `port`).
   */
  readonly adminPort: number | null
  /** Interface of the admin listener. Default 127.0.0.1. */
  readonly adminHost: string
  /**
   * Whether `/ready` and `/metrics` are also served on the main port. Default: true without an
   * admin listener, false with one (`/health` stays on the main port either way: load
   * balancers probe liveness there).
   */
  readonly opsOnMainPort: boolean
  /** Per-org token and cost counters on /metrics. Default false: one series per tenant. */
  readonly metricsOrgLabel: boolean
  /** Open connections the main listener accepts at once; more are closed on arrival. Default 10000. */
  readonly maxConnections: number
  /** How long a client may take to send a request's headers. Default 10000 ms. */
  readonly headersTimeoutMs: number
  /** How long a client may take to send a whole request, body included (not the answer). Default 30000 ms. */
  readonly requestTimeoutMs: number
}

export const DEFAULT_HEADER_NAMES: ProxyHeaderNames = {
  requestId: "X-Request-ID",
  traceId: "X-Trace-ID",
  responseTime: "X-Response-Time",
  agentId: "X-IBEX-Agent-ID"
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024
export const DEFAULT_RATE_LIMIT_PER_MINUTE = 60

export type ProxyConfigInput = Partial<Omit<ProxyConfigShape, "headers" | "adminPort" | "opsOnMainPort">> & {
  readonly adminPort?: number | null
  readonly opsOnMainPort?: boolean | undefined
  readonly headers?: Partial<ProxyHeaderNames>
}

export const makeProxyConfig = (input: ProxyConfigInput = {}): ProxyConfigShape => ({
  port: input.port ?? 8080,
  host: input.host ?? "0.0.0.0",
  maxBodyBytes: input.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
  defaultRateLimitPerMinute: input.defaultRateLimitPerMinute ?? DEFAULT_RATE_LIMIT_PER_MINUTE,
  headers: { ...DEFAULT_HEADER_NAMES, ...input.headers },
  readiness: input.readiness ?? [],
  readinessTimeoutMs: input.readinessTimeoutMs ?? 1000,
  version: input.version ?? "0.1.0",
  accessLog: input.accessLog ?? true,
  processMetrics: input.processMetrics ?? true,
  tracing: input.tracing ?? true,
  drainTimeoutMs: input.drainTimeoutMs ?? 30_000,
  adminPort: input.adminPort ?? null,
  adminHost: input.adminHost ?? "127.0.0.1",
  opsOnMainPort: input.opsOnMainPort ?? (input.adminPort === undefined || input.adminPort === null),
  metricsOrgLabel: input.metricsOrgLabel ?? false,
  maxConnections: input.maxConnections ?? 10_000,
  headersTimeoutMs: input.headersTimeoutMs ?? 10_000,
  requestTimeoutMs: input.requestTimeoutMs ?? 30_000
})

export class ProxyConfig extends Context.Tag("@ibex/proxy-adapter-http/ProxyConfig")<ProxyConfig, ProxyConfigShape>() {
  static readonly layer = (input: ProxyConfigInput = {}): Layer.Layer<ProxyConfig> =>
    Layer.succeed(ProxyConfig, makeProxyConfig(input))
}

const headerName = (env: string, fallback: string) =>
  Config.string(env).pipe(
    Config.validate({
      message: "must be an HTTP header token",
      validation: (s) => /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(s)
    }),
    Config.withDefault(fallback)
  )

/**
 * The proxy's settings from the environment (the apps add the readiness probes):
 * PROXY_PORT, PROXY_HOST, PROXY_MAX_BODY_BYTES, RATE_LIMIT_DEFAULT_RPM, PROXY_REQUEST_ID_HEADER,
 * PROXY_TRACE_ID_HEADER, PROXY_RESPONSE_TIME_HEADER, PROXY_AGENT_ID_HEADER, PROXY_DRAIN_TIMEOUT_MS,
 * PROXY_ADMIN_PORT, PROXY_ADMIN_HOST, PROXY_OPS_ON_MAIN_PORT, PROXY_METRICS_ORG_LABEL,
 * PROXY_MAX_CONNECTIONS, PROXY_HEADERS_TIMEOUT_MS, PROXY_REQUEST_TIMEOUT_MS.
 */
const positive = (name: string, fallback: number) =>
  Config.integer(name).pipe(
    Config.validate({ message: "must be a positive integer", validation: (n) => n > 0 }),
    Config.withDefault(fallback)
  )

export const proxyConfigFromEnv: Config.Config<ProxyConfigInput> = Config.all({
  port: Config.integer("PROXY_PORT").pipe(
    Config.validate({ message: "must be 0..65535 (0: any free port)", validation: (n) => n >= 0 && n <= 65535 }),
    Config.withDefault(8080)
  ),
  host: Config.string("PROXY_HOST").pipe(Config.withDefault("0.0.0.0")),
  maxBodyBytes: Config.integer("PROXY_MAX_BODY_BYTES").pipe(
    Config.validate({ message: "must be a positive integer", validation: (n) => n > 0 }),
    Config.withDefault(DEFAULT_MAX_BODY_BYTES)
  ),
  defaultRateLimitPerMinute: Config.integer("RATE_LIMIT_DEFAULT_RPM").pipe(
    Config.validate({ message: "must be a positive integer", validation: (n) => n > 0 }),
    Config.withDefault(DEFAULT_RATE_LIMIT_PER_MINUTE)
  ),
  adminPort: Config.option(
    Config.integer("PROXY_ADMIN_PORT").pipe(
      Config.validate({ message: "must be 0..65535 (0: any free port)", validation: (n) => n >= 0 && n <= 65535 })
    )
  ).pipe(Config.map(Option.getOrNull)),
  adminHost: Config.string("PROXY_ADMIN_HOST").pipe(Config.withDefault("127.0.0.1")),
  metricsOrgLabel: Config.boolean("PROXY_METRICS_ORG_LABEL").pipe(Config.withDefault(false)),
  opsOnMainPort: Config.option(Config.boolean("PROXY_OPS_ON_MAIN_PORT")).pipe(Config.map(Option.getOrUndefined)),
  maxConnections: positive("PROXY_MAX_CONNECTIONS", 10_000),
  headersTimeoutMs: positive("PROXY_HEADERS_TIMEOUT_MS", 10_000),
  requestTimeoutMs: positive("PROXY_REQUEST_TIMEOUT_MS", 30_000),
  drainTimeoutMs: Config.integer("PROXY_DRAIN_TIMEOUT_MS").pipe(
    Config.validate({ message: "must be a non-negative integer", validation: (n) => n >= 0 }),
    Config.withDefault(30_000)
  ),
  headers: Config.all({
    requestId: headerName("PROXY_REQUEST_ID_HEADER", DEFAULT_HEADER_NAMES.requestId),
    traceId: headerName("PROXY_TRACE_ID_HEADER", DEFAULT_HEADER_NAMES.traceId),
    responseTime: headerName("PROXY_RESPONSE_TIME_HEADER", DEFAULT_HEADER_NAMES.responseTime),
    agentId: headerName("PROXY_AGENT_ID_HEADER", DEFAULT_HEADER_NAMES.agentId)
  })
})
