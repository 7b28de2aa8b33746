import { randomBytes } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { TokenValidator } from "@ibex/auth-core"
import { serveConsole } from "@ibex/console/server"
import {
  type DomainError,
  MethodNotAllowed,
  RouteNotFound,
  type TokenId,
  TokenStore,
  toEnvelope,
  uuidv7
} from "@ibex/domain"
import { Context, Data, Duration, Effect, Layer, Metric, Option, Runtime, type Scope } from "effect"
import { collectDefaultMetrics, Gauge, Registry } from "prom-client"
import { AdminHttpHandlers } from "./http/AdminHttpHandlers.js"
import { renderEffectMetrics } from "./prometheus.js"

/**
 * The auth service's admin HTTP server (loopback by default): the same /health and /ready
 * contract as the proxy (docs/OPERATIONS.md) and /metrics in Prometheus text. Nothing here
 * touches a token: the database probe looks up the nil token id.
 */
export interface AuthAdminHttpConfig {
  readonly host: string
  /** 0 picks a free port; AuthAdminHttp.port tells which. */
  readonly port: number
  /** Reported by /health. */
  readonly version: string
  /** Budget of each readiness check. Default 1000 ms. */
  readonly readinessTimeoutMs?: number | undefined
  /** prom-client's process metrics on /metrics. Default true. */
  readonly processMetrics?: boolean | undefined
}

export interface AuthAdminHttpShape {
  readonly host: string
  readonly port: number
  /** `http://<host>:<port>`. */
  readonly url: string
}

export class AuthAdminHttp extends Context.Tag("@ibex/app-auth/AuthAdminHttp")<AuthAdminHttp, AuthAdminHttpShape>() {}

export class AdminListenError extends Data.TaggedError("AdminListenError")<{
  readonly host: string
  readonly port: number
  readonly code: string
}> {}

export const AUTH_VERSION = "0.1.0"

const NIL_TOKEN_ID = "00000000-0000-0000-0000-000000000000" as TokenId
const ROUTES = new Set(["/health", "/ready", "/metrics"])
/** Seconds a 503 asks the prober to wait (the proxy sends the same). */
const RETRY_AFTER_UNAVAILABLE_SECONDS = "1"

type CheckStatus = "up" | "down" | "disabled"

export const makeAuthAdminHttp = (
  config: AuthAdminHttpConfig
): Effect.Effect<AuthAdminHttpShape, AdminListenError, TokenValidator | TokenStore | Scope.Scope> =>
  Effect.gen(function* () {
    const validator = yield* TokenValidator
    const tokens = yield* TokenStore
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    // Mounted handlers (the IAM API, the console's static files) are tried in order before the probes.
    const handlers = Option.getOrElse(yield* Effect.serviceOption(AdminHttpHandlers), () => [])
    const timeout = Duration.millis(config.readinessTimeoutMs ?? 1_000)

    const registry = new Registry()
    if (config.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: "ibex_auth_" })
    const dependencyUp = new Gauge({
      name: "ibex_dependency_up",
      help: "Whether a dependency answered its last /ready probe (1 up, 0 down), by dependency name.",
      labelNames: ["dependency"] as const,
      registers: [registry]
    })

    const probe = (name: string, check: Effect.Effect<boolean, unknown>) =>
      check.pipe(
        Effect.timeoutTo({ duration: timeout, onSuccess: (ok) => ok, onTimeout: () => false }),
        Effect.catchAllCause(() => Effect.succeed(false)),
        Effect.map((ok): readonly [string, CheckStatus] => {
          dependencyUp.set({ dependency: name }, ok ? 1 : 0)
          return [name, ok ? "up" : "down"]
        })
      )

    const ready = Effect.gen(function* () {
      const results = yield* Effect.all(
        [
          // Database reachable: one indexed lookup through the same function validation uses.
          probe("database", Effect.as(tokens.findCredential(NIL_TOKEN_ID), true)),
          // Revocation feed listening: while it is not, the validation cache is bypassed.
          probe(
            "revocation_feed",
            Effect.map(validator.stats, (s) => s.trusted)
          )
        ],
        { concurrency: "unbounded" }
      )
      const checks: Record<string, { status: CheckStatus }> = {}
      for (const [name, status] of results) checks[name] = { status }
      const isReady = results.every(([, status]) => status !== "down")
      return { status: isReady ? 200 : 503, body: { status: isReady ? "ready" : "not_ready", checks } }
    })

    const metricsText = Effect.zipWith(
      Effect.promise(() => registry.metrics()),
      Metric.snapshot,
      (prom, snapshot) => prom + renderEffectMetrics(snapshot)
    )

    const send = (res: ServerResponse, status: number, body: string, contentType: string, extra = {}) => {
      if (res.headersSent || res.destroyed) return
      res.writeHead(status, {
        "Content-Type": contentType,
        "Content-Length": String(Buffer.byteLength(body)),
        "Cache-Control": "no-store",
        // A 503 (not ready) says when to probe again.
        ...(status === 503 ? { "Retry-After": RETRY_AFTER_UNAVAILABLE_SECONDS } : {}),
        ...extra
      })
      res.end(body)
    }
    const sendJson = (res: ServerResponse, status: number, value: unknown) =>
      send(res, status, JSON.stringify(value), "application/json")
    const sendError = (res: ServerResponse, error: DomainError, extra = {}) => {
      const requestId = uuidv7(Date.now(), randomBytes(10))
      const { status, body } = toEnvelope(error, requestId)
      send(res, status, JSON.stringify(body), "application/json", { "X-Request-ID": requestId, ...extra })
    }

    const handle = (req: IncomingMessage, res: ServerResponse): Effect.Effect<void> =>
      Effect.gen(function* () {
        for (const handler of handlers) if (yield* handler(req, res)) return
        yield* probes(req, res)
      })

    const probes = (req: IncomingMessage, res: ServerResponse): Effect.Effect<void> => {
      const url = req.url ?? "/"
      const q = url.indexOf("?")
      const path = q === -1 ? url : url.slice(0, q)
      if (!ROUTES.has(path)) return Effect.sync(() => sendError(res, new RouteNotFound()))
      // HEAD on the probes runs GET (node:http drops the body): load balancers probe with HEAD.
      const allowed = path === "/metrics" ? ["GET"] : ["GET", "HEAD"]
      if (!allowed.includes(req.method ?? ""))
        return Effect.sync(() => sendError(res, new MethodNotAllowed({ allowed }), { Allow: allowed.join(", ") }))
      switch (path) {
        case "/health":
          return Effect.sync(() => sendJson(res, 200, { status: "ok", service: "auth", version: config.version }))
        case "/ready":
          return Effect.map(ready, (r) => sendJson(res, r.status, r.body))
        default:
          return Effect.map(metricsText, (text) => send(res, 200, text, registry.contentType))
      }
    }

    const server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 5_000 })
    server.on("request", (req: IncomingMessage, res: ServerResponse) => {
      res.on("error", () => {})
      if (serveConsole(req, res)) return // the web console under /console/ (packages/console)
      const fiber = runFork(handle(req, res))
      fiber.addObserver(() => {
        if (!res.headersSent) sendJson(res, 500, { status: "error" })
      })
    })
    server.on("clientError", (_err, socket) => socket.destroy())

    const port = yield* Effect.acquireRelease(
      Effect.async<number, AdminListenError>((resume) => {
        const onError = (e: Error & { code?: string }) =>
          resume(Effect.fail(new AdminListenError({ host: config.host, port: config.port, code: e.code ?? "UNKNOWN" })))
        server.once("error", onError)
        server.listen(config.port, config.host, () => {
          server.off("error", onError)
          server.on("error", () => {})
          const address = server.address()
          resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : config.port))
        })
      }),
      () =>
        Effect.async<void>((resume) => {
          server.close(() => resume(Effect.void))
          server.closeAllConnections()
        })
    )
    const urlHost = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host
    yield* Effect.logInfo({ event: "auth_http_listening", host: config.host, port })
    return { host: config.host, port, url: `http://${urlHost.includes(":") ? `[${urlHost}]` : urlHost}:${port}` }
  })

/** The admin server as a Layer: listens while the layer's scope is open. */
export const AuthAdminHttpLive = (
  config: AuthAdminHttpConfig
): Layer.Layer<AuthAdminHttp, AdminListenError, TokenValidator | TokenStore> =>
  Layer.scoped(AuthAdminHttp, makeAuthAdminHttp(config))
