import { randomBytes } from "node:crypto"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { Socket } from "node:net"
import {
  type AuthGateway,
  type AuthorizationError,
  authorizeProxyRequest,
  type DomainError,
  InternalError,
  InvalidHeader,
  MalformedJson,
  MethodNotAllowed,
  normalizeChatCompletionRequest,
  PayloadTooLarge,
  Permissions,
  ProviderNotConfigured,
  parseInboundRequestId,
  type RateLimitDecision,
  type RateLimiter,
  RouteNotFound,
  resetUnixSeconds,
  retryAfterSeconds,
  toEnvelope,
  UnsupportedMediaType,
  uuidv7,
  ValidationFailed
} from "@ibex/domain"
import {
  Cause,
  Context,
  Data,
  Duration,
  Effect,
  Either,
  Exit,
  Layer,
  Option,
  Runtime,
  type Scope,
  Tracer
} from "effect"
import { validateChatCompletion } from "./chatValidation.js"
import { bearerToken, hasCrLf, headerValue, parseTraceparent, sanitizeInboundHeaders } from "./headers.js"
import { makeProxyMetrics, type ProxyMetrics } from "./Metrics.js"
import { ProxyConfig, type ProxyConfigShape, type ReadinessProbe } from "./ProxyConfig.js"
import { matchRoute, RETRY_AFTER_UNAVAILABLE_SECONDS, type RouteMatch } from "./routes.js"

/** The running proxy: where it listens (port 0 resolves to the bound port) and its metrics. */
export interface ProxyServerShape {
  readonly host: string
  readonly port: number
  /** `http://<host>:<port>` (127.0.0.1 when bound to every interface). */
  readonly url: string
  readonly metrics: ProxyMetrics
}

export class ProxyServer extends Context.Tag("@ibex/proxy-adapter-http/ProxyServer")<ProxyServer, ProxyServerShape>() {}

export class ProxyListenError extends Data.TaggedError("ProxyListenError")<{
  readonly host: string
  readonly port: number
  readonly code: string
}> {}

/** What a handler needs from the request, decided once by the global middleware. */
interface RequestState {
  readonly requestId: string
  traceId: string
  readonly started: number
  readonly method: string
  template: string
  status: number
  orgId: string | undefined
  errorCode: string | undefined
  /** Set once the limiter decided; rate-limit headers follow it. */
  rate: RateLimitDecision | undefined
}

type Requirements = AuthGateway | RateLimiter

/** The client went away mid-body: nothing to answer. */
class ClientGone extends Data.TaggedError("ClientGone") {}

const randomPool = { buf: Buffer.alloc(0), offset: 0 }
const randomSlice = (n: number): Uint8Array => {
  if (randomPool.offset + n > randomPool.buf.length) {
    randomPool.buf = randomBytes(4096)
    randomPool.offset = 0
  }
  const out = randomPool.buf.subarray(randomPool.offset, randomPool.offset + n)
  randomPool.offset += n
  return out
}

const newRequestId = (): string => uuidv7(Date.now(), randomSlice(10))
const randomTraceId = (): string => Buffer.from(randomSlice(16)).toString("hex")

const secretLike = /(ibex_pat_[A-Za-z0-9_-]+|Bearer\s+\S+)/gi
/** A defect summary safe for logs: its kind and a bounded message with anything token-shaped removed. */
const describeDefect = (cause: Cause.Cause<unknown>): { defect_type: string; defect_message: string } => {
  const squashed = Cause.squash(cause)
  const type = squashed instanceof Error ? squashed.name : typeof squashed
  const message = squashed instanceof Error ? squashed.message : ""
  return { defect_type: type, defect_message: message.replace(secretLike, "[redacted]").slice(0, 200) }
}

const isJsonMediaType = (contentType: string | undefined): boolean => {
  if (contentType === undefined) return false
  const semi = contentType.indexOf(";")
  const media = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase()
  return media === "application/json"
}

/**
 * The proxy's HTTP edge on node:http with one Effect fiber per request (see README for why not
 * the platform router: measured throughput). Global middleware, in seed 004's order:
 * metrics → request context → response headers → logging → router; protected routes then run
 * body limit + Content-Type (chat only) → token → agent → permission → org scope → rate limit →
 * normalize + validate.
 */
export const makeProxyServer: Effect.Effect<
  ProxyServerShape,
  ProxyListenError,
  Requirements | ProxyConfig | Scope.Scope
> = Effect.gen(function* () {
  const config = yield* ProxyConfig
  const runtime = yield* Effect.runtime<Requirements>()
  const runFork = Runtime.runFork(runtime)
  const metrics = makeProxyMetrics({ processMetrics: config.processMetrics })
  const names = {
    requestId: config.headers.requestId.toLowerCase(),
    agentId: config.headers.agentId.toLowerCase()
  }

  // ---- response writing (the "response headers" middleware) ----

  const baseHeaders = (state: RequestState): Record<string, string> => {
    const h: Record<string, string> = {
      [config.headers.requestId]: state.requestId,
      [config.headers.traceId]: state.traceId,
      [config.headers.responseTime]: `${(performance.now() - state.started).toFixed(3)}ms`
    }
    if (state.rate !== undefined) {
      h["X-RateLimit-Limit"] = String(state.rate.limit)
      h["X-RateLimit-Remaining"] = String(state.rate.remaining)
      h["X-RateLimit-Reset"] = String(resetUnixSeconds(state.rate))
      if (!state.rate.allowed) h["Retry-After"] = String(retryAfterSeconds(state.rate))
    }
    return h
  }

  const send = (
    res: ServerResponse,
    state: RequestState,
    status: number,
    body: string,
    contentType: string,
    extra?: Record<string, string>
  ) => {
    state.status = status
    if (res.headersSent || res.destroyed) return
    const headers = baseHeaders(state)
    headers["Content-Type"] = contentType
    headers["Content-Length"] = String(Buffer.byteLength(body))
    if (extra !== undefined) Object.assign(headers, extra)
    if (status === 503) headers["Retry-After"] ??= RETRY_AFTER_UNAVAILABLE_SECONDS
    res.writeHead(status, headers)
    res.end(body)
  }

  const sendJson = (res: ServerResponse, state: RequestState, status: number, value: unknown) =>
    send(res, state, status, JSON.stringify(value), "application/json")

  const sendError = (res: ServerResponse, state: RequestState, error: DomainError, extra?: Record<string, string>) => {
    const { status, body } = toEnvelope(error, state.requestId)
    state.errorCode = body.error.code
    send(res, state, status, JSON.stringify(body), "application/json", extra)
  }

  // ---- body (protected POST routes only, before any auth call) ----

  const readBody = (req: IncomingMessage): Effect.Effect<Buffer, PayloadTooLarge | ClientGone> =>
    Effect.async<Buffer, PayloadTooLarge | ClientGone>((resume) => {
      const limit = config.maxBodyBytes
      const declared = headerValue(req.headers, "content-length")
      if (declared !== undefined && Number(declared) > limit)
        return resume(Effect.fail(new PayloadTooLarge({ limitBytes: limit })))
      const chunks: Array<Buffer> = []
      let size = 0
      const cleanup = () => {
        req.off("data", onData)
        req.off("end", onEnd)
        req.off("error", onGone)
        req.off("aborted", onGone)
      }
      const onData = (chunk: Buffer) => {
        size += chunk.length
        if (size > limit) {
          cleanup()
          req.pause()
          resume(Effect.fail(new PayloadTooLarge({ limitBytes: limit })))
        } else chunks.push(chunk)
      }
      const onEnd = () => {
        cleanup()
        resume(Effect.succeed(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size)))
      }
      const onGone = () => {
        cleanup()
        resume(Effect.fail(new ClientGone()))
      }
      req.on("data", onData)
      req.on("end", onEnd)
      req.on("error", onGone)
      req.on("aborted", onGone)
      return Effect.sync(cleanup)
    })

  const utf8 = new TextDecoder("utf-8", { fatal: true })
  const parseJson = (body: Buffer): Either.Either<unknown, MalformedJson> => {
    try {
      return Either.right(JSON.parse(utf8.decode(body)))
    } catch {
      return Either.left(new MalformedJson())
    }
  }

  // ---- readiness ----

  const runProbe = (probe: ReadinessProbe) =>
    probe.check === null
      ? Effect.succeed([probe.name, "disabled"] as const)
      : probe.check.pipe(
          Effect.timeoutTo({
            duration: Duration.millis(config.readinessTimeoutMs),
            onSuccess: (ok) => ok,
            onTimeout: () => false
          }),
          Effect.catchAllCause(() => Effect.succeed(false)),
          Effect.map((ok) => [probe.name, ok ? "up" : "down"] as const)
        )

  const ready = Effect.gen(function* () {
    const results = yield* Effect.all(config.readiness.map(runProbe), { concurrency: "unbounded" })
    const checks: Record<string, { status: string }> = {}
    for (const [name, status] of results) {
      checks[name] = { status }
      metrics.dependencyUp(name, status === "disabled" ? null : status === "up")
    }
    const isReady = results.every(([, status]) => status !== "down")
    return { status: isReady ? 200 : 503, body: { status: isReady ? "ready" : "not_ready", checks } }
  })

  // ---- the protected chain ----

  const authorize = (
    req: IncomingMessage,
    state: RequestState,
    route: "GET /v1/internal/auth-probe" | "GET /v1/orgs/{org_id}/auth-probe" | "POST /v1/chat/completions",
    pathOrgId: string | undefined
  ) =>
    authorizeProxyRequest({
      token: bearerToken(req.headers.authorization),
      agentId: Option.fromNullable(headerValue(req.headers, names.agentId)),
      route,
      pathOrgId: Option.fromNullable(pathOrgId),
      defaultRateLimitPerMinute: config.defaultRateLimitPerMinute
    }).pipe(
      Effect.tap((authorized) =>
        Effect.sync(() => {
          state.orgId = authorized.principal.orgId
          metrics.authOutcome("ok")
          if (Option.isSome(authorized.rateLimit)) {
            state.rate = authorized.rateLimit.value
            metrics.rateLimitDecision("allowed")
          } else metrics.rateLimitDecision("fail_open")
        })
      ),
      Effect.tapError((error: AuthorizationError) =>
        Effect.sync(() => {
          if (error._tag === "RateLimited") {
            metrics.authOutcome("ok")
            metrics.rateLimitDecision("denied")
            state.rate = {
              allowed: false,
              limit: error.limit,
              remaining: 0,
              resetAtMs: error.resetAtMs,
              retryAfterMs: error.retryAfterMs
            }
          } else metrics.authOutcome(toEnvelope(error, "").body.error.code)
        })
      )
    )

  // ---- the router ----

  const route = (
    req: IncomingMessage,
    res: ServerResponse,
    state: RequestState,
    match: RouteMatch
  ): Effect.Effect<void, DomainError | ClientGone, Requirements> => {
    if (match._tag === "NotFound") return Effect.fail(new RouteNotFound())
    state.template = match.template
    if (match._tag === "MethodNotAllowed")
      return Effect.sync(() =>
        sendError(res, state, new MethodNotAllowed({ allowed: [...match.allow] }), { Allow: match.allow.join(", ") })
      )
    switch (match.route) {
      case "GET /health":
        return Effect.sync(() => sendJson(res, state, 200, { status: "ok", service: "proxy", version: config.version }))
      case "GET /ready":
        return Effect.map(ready, (r) => sendJson(res, state, r.status, r.body))
      case "GET /metrics":
        return Effect.map(
          Effect.promise(() => metrics.registry.metrics()),
          (text) => send(res, state, 200, text, metrics.registry.contentType)
        )
      case "GET /v1/internal/auth-probe":
      case "GET /v1/orgs/{org_id}/auth-probe":
        return Effect.map(authorize(req, state, match.route, match.pathOrgId), (a) =>
          sendJson(res, state, 200, {
            org_id: a.principal.orgId,
            agent_id: a.agentId,
            permissions: Permissions.toWire(a.principal.permissions),
            permission_names: Permissions.toNames(a.principal.permissions)
          })
        )
      case "POST /v1/chat/completions":
        return Effect.gen(function* () {
          if (!isJsonMediaType(headerValue(req.headers, "content-type"))) return yield* new UnsupportedMediaType()
          const body = yield* readBody(req)
          yield* authorize(req, state, "POST /v1/chat/completions", undefined)
          const json = yield* parseJson(body)
          const validated = validateChatCompletion(json)
          if (Either.isLeft(validated)) return yield* new ValidationFailed({ fieldErrors: [...validated.left] })
          // The normalized request, the org context from the token and only the sanitized
          // headers are what a provider adapter would get here. Phase 1 registers none.
          void normalizeChatCompletionRequest(validated.right)
          void sanitizeInboundHeaders(req.headers, config.headers)
          return yield* new ProviderNotConfigured()
        })
    }
  }

  // ---- the global chain ----

  const handle = (req: IncomingMessage, res: ServerResponse, state: RequestState) => {
    const program = Effect.suspend((): Effect.Effect<void, DomainError | ClientGone, Requirements> => {
      if (hasCrLf(req.rawHeaders)) return Effect.fail(new InvalidHeader())
      return route(req, res, state, matchRoute(req.method ?? "GET", req.url ?? "/"))
    }).pipe(
      Effect.catchAll((error) =>
        Effect.sync(() => {
          if (error._tag === "ClientGone") {
            state.status = 499
            return
          }
          // Refused before the body was read: close rather than drain an unbounded body.
          const close =
            error._tag === "PayloadTooLarge" || error._tag === "UnsupportedMediaType"
              ? { Connection: "close" }
              : undefined
          sendError(res, state, error, close)
        })
      ),
      Effect.catchAllCause((cause) =>
        Effect.zipRight(
          Effect.sync(() => sendError(res, state, new InternalError())),
          Effect.logError("unhandled failure").pipe(Effect.annotateLogs(describeDefect(cause)))
        )
      )
    )
    const parent = parseTraceparent(headerValue(req.headers, "traceparent"))
    // One object message, no log annotations: the access log is on every request's path, and
    // annotations cost a FiberRef update and a HashMap walk per line.
    const accessLog = Effect.suspend(() => {
      if (!config.accessLog) return Effect.void
      const line: Record<string, unknown> = {
        message: "request",
        request_id: state.requestId,
        trace_id: state.traceId,
        method: state.method,
        route: state.template,
        status: state.status,
        duration_ms: Number((performance.now() - state.started).toFixed(3))
      }
      if (state.orgId !== undefined) line.org_id = state.orgId
      if (state.errorCode !== undefined) line.error_code = state.errorCode
      const probe = state.template === "/health" || state.template === "/metrics" || state.template === "/ready"
      return probe ? Effect.logDebug(line) : Effect.logInfo(line)
    })
    if (!config.tracing) {
      state.traceId = parent?.traceId ?? randomTraceId()
      return program.pipe(Effect.zipRight(accessLog), Effect.withTracerEnabled(false))
    }
    return Effect.useSpan(
      "proxy.request",
      {
        kind: "server",
        captureStackTrace: false,
        ...(parent === undefined ? {} : { parent: Tracer.externalSpan(parent) })
      },
      (span) => {
        state.traceId = span.traceId || randomTraceId()
        return program.pipe(
          Effect.withParentSpan(span),
          Effect.zipRight(
            Effect.suspend(() => {
              span.attribute("http.request.method", state.method)
              span.attribute("http.route", state.template)
              span.attribute("http.response.status_code", state.status)
              return accessLog
            })
          )
        )
      }
    )
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now()
    const state: RequestState = {
      requestId: Option.getOrElse(parseInboundRequestId(headerValue(req.headers, names.requestId)), newRequestId),
      traceId: "",
      started,
      method: req.method ?? "GET",
      template: "unmatched",
      status: 0,
      orgId: undefined,
      errorCode: undefined,
      rate: undefined
    }
    res.once("finish", () => {
      metrics.observeRequest(state.method, state.template, state.status, (performance.now() - started) / 1000)
    })
    res.on("error", () => {})
    const fiber = runFork(handle(req, res, state))
    fiber.addObserver((exit) => {
      // Last resort: the program above recovers from every failure, so this runs only on interruption.
      if (Exit.isFailure(exit) && !res.headersSent) {
        if (state.traceId === "") state.traceId = randomTraceId()
        sendError(res, state, new InternalError())
      }
    })
  }

  // A request node's parser refuses (CR/LF in a header, bad framing) never reaches onRequest:
  // answer it with the same envelope and headers, then close.
  const onClientError = (err: Error & { code?: string }, socket: Socket) => {
    if (!socket.writable || err.code === "ECONNRESET" || !(err.code ?? "").startsWith("HPE_")) {
      socket.destroy()
      return
    }
    const requestId = newRequestId()
    const { status, body } = toEnvelope(new InvalidHeader(), requestId)
    const text = JSON.stringify(body)
    socket.end(
      `HTTP/1.1 ${status} Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n` +
        `${config.headers.requestId}: ${requestId}\r\n${config.headers.traceId}: ${randomTraceId()}\r\n` +
        `${config.headers.responseTime}: 0.000ms\r\nConnection: close\r\n\r\n${text}`
    )
    metrics.observeRequest("OTHER", "unmatched", status, 0)
  }

  const server: Server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 })
  server.on("request", onRequest)
  server.on("clientError", onClientError)

  const port = yield* Effect.acquireRelease(
    Effect.async<number, ProxyListenError>((resume) => {
      const onError = (e: Error & { code?: string }) =>
        resume(Effect.fail(new ProxyListenError({ host: config.host, port: config.port, code: e.code ?? "UNKNOWN" })))
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
        server.closeIdleConnections()
        setTimeout(() => server.closeAllConnections(), 1_000).unref()
      })
  )

  const urlHost = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host
  yield* Effect.logInfo("proxy listening").pipe(Effect.annotateLogs({ host: config.host, port }))
  return { host: config.host, port, url: `http://${urlHost.includes(":") ? `[${urlHost}]` : urlHost}:${port}`, metrics }
})

/** The proxy as a Layer: listens while the layer's scope is open. Needs AuthGateway, RateLimiter and ProxyConfig. */
export const ProxyHttpLive: Layer.Layer<ProxyServer, ProxyListenError, Requirements | ProxyConfig> = Layer.scoped(
  ProxyServer,
  makeProxyServer
)

export type { ProxyConfigShape }
