import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { Socket } from "node:net"
import {
  AuthGateway,
  type AuthorizedRequest,
  type DomainError,
  InternalError,
  InvalidHeader,
  lookupModel,
  MethodNotAllowed,
  ModelNotAllowed,
  ModelNotFound,
  makeTargetHealth,
  PayloadTooLarge,
  Permissions,
  ProviderGateway,
  ProviderNotConfigured,
  parseInboundRequestId,
  RateLimiter,
  RouteNotFound,
  Routing,
  TargetHealth,
  toEnvelope,
  UnsupportedMediaType,
  UsageLimiter,
  UsageSink
} from "@ibex/domain"
import { Cause, Context, Data, Effect, Either, Exit, Layer, Option, Runtime, type Scope, Tracer } from "effect"
import { admitUsage } from "./chat/admitUsage.js"
import { parseChatRequest } from "./chat/chatRequest.js"
import { estimateCompletionUsage, estimateStreamUsage, makeAnswerStage, makeForwardStage } from "./chat/forward.js"
import { reservationFor } from "./chat/metering.js"
import { beginUsage, recordUsage } from "./chat/recordUsage.js"
import { type ChatHandOver, makeWarmChat, type WarmEnd } from "./chat/warmChat.js"
import { makeAccessLog } from "./edge/accessLog.js"
import { reloadRouting, routingReport } from "./edge/adminRouting.js"
import { makeAuthorizeStage } from "./edge/authorize.js"
import { makeDrain } from "./edge/drain.js"
import { listModels, retrieveModel } from "./edge/models.js"
import { arrivedAtMs, newRequestId, newRequestState, type RequestState, randomTraceId } from "./edge/RequestState.js"
import { makeResponder } from "./edge/Responder.js"
import { ClientGone, declaredTooLarge, isJsonMediaType, keepsConnectionUnread, readBody } from "./edge/readBody.js"
import { makeReadiness } from "./edge/readiness.js"
import { headerValue, parseTraceparent, refusedHeaders } from "./headers.js"
import { makeProxyMetrics, type ProxyMetrics } from "./Metrics.js"
import { ProxyConfig, type ProxyConfigShape } from "./ProxyConfig.js"
import { matchRoute, type RouteMatch } from "./routes.js"

/** The running proxy: where it listens (port 0 resolves to the bound port) and its metrics. */
export interface ProxyServerShape {
  readonly host: string
  readonly port: number
  /** `http://<host>:<port>` (127.0.0.1 when bound to every interface). */
  readonly url: string
  /** The operations listener's URL (`/health`, `/ready`, `/metrics`), when one is configured. */
  readonly adminUrl: string | null
  readonly metrics: ProxyMetrics
}

export class ProxyServer extends Context.Tag("@ibex/proxy-adapter-http/ProxyServer")<ProxyServer, ProxyServerShape>() {}

export class ProxyListenError extends Data.TaggedError("ProxyListenError")<{
  readonly host: string
  readonly port: number
  readonly code: string
}> {}

type Listener = "main" | "admin"

/** A write to a socket the client closed errors on the response; the request's own path handles the rest. */
const ignoreError = () => {}

const opsTemplates = new Set(["/health", "/ready", "/metrics"])

/** `http://<host>:<port>`, with 127.0.0.1 for an every-interface bind. */
const urlOf = (host: string, port: number): string => {
  const h = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host
  return `http://${h.includes(":") ? `[${h}]` : h}:${port}`
}

type Requirements = AuthGateway | RateLimiter | Routing | ProviderGateway | UsageLimiter | UsageSink

const secretLike = /(ibex_pat_[A-Za-z0-9_-]+|Bearer\s+\S+|sk-[A-Za-z0-9_-]{8,})/gi
/** A defect summary safe for logs: its kind and a bounded message with anything token-shaped removed. */
const describeDefect = (cause: Cause.Cause<unknown>): { defect_type: string; defect_message: string } => {
  const squashed = Cause.squash(cause)
  const type = squashed instanceof Error ? squashed.name : typeof squashed
  const message = squashed instanceof Error ? squashed.message : ""
  return { defect_type: type, defect_message: message.replace(secretLike, "[redacted]").slice(0, 200) }
}

/** The status an error answer will carry (the catalogue's), for a usage record written before it. */
const statusOf = (exit: Exit.Exit<unknown, unknown>): number => {
  if (exit._tag !== "Failure") return 200
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) return 500
  const error = failure.value as { _tag?: string }
  if (error._tag === "ClientGone") return 499
  return toEnvelope(error as DomainError, "").status
}

/**
 * The proxy's HTTP edge on node:http with one Effect fiber per request (see README for why not
 * the platform router: measured throughput). This module is the one place the stages are
 * composed. Global, in seed 004's order: metrics → request context → response headers →
 * logging → router. A protected route then runs: body limit + Content-Type (chat only) →
 * authorize (token → agent → permission → org scope → rate limit) → validate → forward (the
 * upstream call, last).
 */
export const makeProxyServer: Effect.Effect<
  ProxyServerShape,
  ProxyListenError,
  Requirements | ProxyConfig | Scope.Scope
> = Effect.gen(function* () {
  const config = yield* ProxyConfig
  const runtime = yield* Effect.runtime<Requirements>()
  const runFork = Runtime.runFork(runtime)
  const metrics = makeProxyMetrics({ processMetrics: config.processMetrics, orgLabel: config.metricsOrgLabel })
  const drain = makeDrain(config)
  const responder = makeResponder(config, drain.draining)
  const { send, sendJson, sendError } = responder
  const ready = makeReadiness(config, metrics, drain.draining)
  const { authorize, authorizeWarm } = makeAuthorizeStage(
    config,
    metrics,
    yield* AuthGateway,
    yield* RateLimiter,
    runtime
  )
  const writeAccessLine = makeAccessLog(runtime, config.accessLog)
  // A request's last step: its access line, then the drain stops waiting for it.
  const finish = (state: RequestState) => {
    if (state.finished) return
    state.finished = true
    drain.finish()
  }
  const accessLog = (state: RequestState, spanId?: string) => {
    try {
      writeAccessLine(state, spanId)
    } finally {
      finish(state)
    }
  }
  const forward = makeForwardStage(responder, metrics)
  const health = makeTargetHealth()
  const startedAtSeconds = Math.floor(Date.now() / 1000)
  const requestIdHeader = config.headers.requestId.toLowerCase()

  // ---- the router ----

  const answer = makeAnswerStage(responder, metrics)

  // The forward stage's work (attempts and answer, or what is left of it), then the usage
  // record, however it ends.
  const recorded: ChatHandOver["recorded"] = (input, forwarding) =>
    forwarding.pipe(
      Effect.provideService(TargetHealth, health),
      Effect.catchTag("UpstreamAborted", () => new ClientGone()),
      Effect.onExit((exit) =>
        recordUsage({
          ...input,
          // An error answer is written after this stage; its status is the one recorded.
          state:
            exit._tag === "Failure" && input.state.status === 0
              ? { ...input.state, status: statusOf(exit) }
              : input.state
        })
      )
    )

  // After the body was validated and the model found: usage admission, the upstream call, the record.
  const admitAndForward: ChatHandOver["admitAndForward"] = (req, res, state, authorized, bodyBytes, intent, pricing) =>
    Effect.gen(function* () {
      const { principal } = authorized
      const reservation = reservationFor(principal, intent, bodyBytes, pricing, arrivedAtMs(state))
      const counted = yield* admitUsage(principal, reservation, state, metrics)
      const usage = beginUsage(state, authorized, intent, reservation, counted, pricing, metrics)
      const span = yield* Effect.option(Effect.currentSpan)
      const spanId = Option.match(span, { onNone: () => undefined, onSome: (s) => s.spanId })
      yield* recorded(usage, forward(req, res, state, intent, principal.orgId, spanId, usage.meter))
    })

  const chatCompletions = (req: IncomingMessage, res: ServerResponse, state: RequestState) =>
    Effect.gen(function* () {
      // Refused on the headers first (type, declared size, then token and agent); the body is read
      // only for a caller that passed them, so an unauthenticated sender's body is never read.
      if (!isJsonMediaType(headerValue(req.headers, "content-type"))) return yield* new UnsupportedMediaType()
      if (declaredTooLarge(req, config.maxBodyBytes))
        return yield* new PayloadTooLarge({ limitBytes: config.maxBodyBytes })
      const authorized = yield* authorize(req, state, "POST /v1/chat/completions", undefined)
      const raw = yield* readBody(req, config.maxBodyBytes)
      const intent = yield* parseChatRequest(raw)
      const table = yield* Effect.flatMap(Routing, (r) => r.table)
      // No provider at all is a gateway that was not given any: 501, as before forwarding existed.
      if (table.providers.size === 0) return yield* new ProviderNotConfigured()
      const found = lookupModel(table, authorized.principal.orgId, intent.model)
      if (found._tag === "NotFound") return yield* new ModelNotFound()
      if (found._tag === "NotAllowed") return yield* new ModelNotAllowed()
      yield* admitAndForward(req, res, state, authorized, raw.length, intent, found.route.pricing)
    })

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
        return Effect.map(authorize(req, state, match.route, match.pathOrgId), (a) => sendProbe(res, state, a))
      case "GET /v1/models":
        return authorize(req, state, match.route, undefined).pipe(
          Effect.flatMap((a) => listModels(a.principal.orgId, startedAtSeconds)),
          Effect.map((list) => sendJson(res, state, 200, list))
        )
      case "GET /v1/models/{model}":
        return authorize(req, state, match.route, undefined).pipe(
          Effect.flatMap((a) => retrieveModel(a.principal.orgId, match.pathModel ?? "", startedAtSeconds)),
          Effect.map((model) => sendJson(res, state, 200, model))
        )
      case "GET /admin/routing":
        return authorize(req, state, match.route, undefined).pipe(
          Effect.flatMap((a) => routingReport(a.principal.orgId)),
          Effect.map((report) => sendJson(res, state, 200, report))
        )
      case "POST /admin/routing/reload":
        return authorize(req, state, match.route, undefined).pipe(
          Effect.flatMap((a) => reloadRouting(a.principal.orgId)),
          Effect.map((report) => sendJson(res, state, report.last_error === null ? 200 : 422, report))
        )
      case "POST /v1/chat/completions":
        return chatCompletions(req, res, state)
    }
  }

  const sendProbe = (res: ServerResponse, state: RequestState, a: AuthorizedRequest) =>
    sendJson(res, state, 200, {
      org_id: a.principal.orgId,
      agent_id: a.agentId,
      permissions: Permissions.toWire(a.principal.permissions),
      permission_names: Permissions.toNames(a.principal.permissions)
    })

  // ---- the global chain ----

  const refuse = (req: IncomingMessage, res: ServerResponse, state: RequestState, error: DomainError | ClientGone) => {
    if (error._tag === "ClientGone") {
      state.status = 499
      return
    }
    // Refused before a large or undeclared body was read: close rather than drain a body nobody
    // will use, however long its sender keeps it coming (`keepsConnectionUnread`).
    const close = error._tag === "PayloadTooLarge" || !keepsConnectionUnread(req) ? { Connection: "close" } : undefined
    sendError(res, state, error, close)
  }

  const failUnexpectedly = (res: ServerResponse, state: RequestState, cause: Cause.Cause<unknown>) => {
    sendError(res, state, new InternalError())
    // Logged from a fiber of its own (the request's may be gone): the request's ids go as fields.
    runFork(
      Effect.logError("unhandled failure").pipe(
        Effect.annotateLogs({ ...describeDefect(cause), request_id: state.requestId, trace_id: state.traceId })
      )
    )
  }

  // Which routes a listener serves: the admin listener only operations; the main one everything
  // but what moved to the admin listener (liveness stays: load balancers probe it there).
  const matchOn = (listener: Listener, method: string, url: string): RouteMatch => {
    const match = matchRoute(method, url)
    if (match._tag === "NotFound") return match
    if (listener === "admin") return opsTemplates.has(match.template) ? match : { _tag: "NotFound" }
    if (!config.opsOnMainPort && (match.template === "/ready" || match.template === "/metrics"))
      return { _tag: "NotFound" }
    return match
  }

  // Every failure answered (a refusal with its envelope, anything else a 500).
  const recovering = (
    req: IncomingMessage,
    res: ServerResponse,
    state: RequestState,
    program: Effect.Effect<void, DomainError | ClientGone, Requirements>
  ) =>
    program.pipe(
      Effect.catchAll((error) => Effect.sync(() => refuse(req, res, state, error))),
      Effect.catchAllCause((cause) => Effect.sync(() => failUnexpectedly(res, state, cause)))
    )

  // An untraced request's program: recovered, then its access line.
  const untraced = (
    req: IncomingMessage,
    res: ServerResponse,
    state: RequestState,
    program: Effect.Effect<void, DomainError | ClientGone, Requirements>
  ) =>
    recovering(req, res, state, program).pipe(
      Effect.zipRight(Effect.sync(() => accessLog(state))),
      Effect.withTracerEnabled(false)
    )

  // `match` is undefined for a request whose headers hold CR or LF (refused, never routed).
  const handle = (req: IncomingMessage, res: ServerResponse, state: RequestState, match: RouteMatch | undefined) => {
    const routed = Effect.suspend(
      (): Effect.Effect<void, DomainError | ClientGone, Requirements> =>
        match === undefined ? Effect.fail(new InvalidHeader()) : route(req, res, state, match)
    )
    const parent = parseTraceparent(headerValue(req.headers, "traceparent"))
    if (!config.tracing) {
      state.traceId = parent?.traceId ?? randomTraceId()
      return untraced(req, res, state, routed)
    }
    const program = recovering(req, res, state, routed)
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
              accessLog(state, span.spanId)
              return Effect.void
            })
          )
        )
      }
    )
  }

  // The auth probes of a warm request, answered without a request fiber: the cache's acceptance,
  // the domain's rules and the limiter decide exactly as `route` would (see authorize.ts). Only
  // when no span is exported, so a traced request always has its whole span tree.
  // A warm request's end: its refusal or defect answered (an answer already written needs
  // nothing more), then its access line.
  const endWarm = (req: IncomingMessage, res: ServerResponse, state: RequestState, how: WarmEnd) => {
    try {
      if (how !== undefined) {
        if (Cause.isCause(how)) failUnexpectedly(res, state, how)
        else refuse(req, res, state, how)
      }
    } catch (defect) {
      failUnexpectedly(res, state, Cause.die(defect))
    } finally {
      accessLog(state)
    }
  }

  // The long way from where a warm request stands, in a fiber of its own.
  const inFiber: ChatHandOver["inFiber"] = (req, res, state, rest) => {
    runFork(untraced(req, res, state, rest)).addObserver((exit) => lastResort(res, state, exit))
  }

  const warmChat = makeWarmChat({
    maxBodyBytes: config.maxBodyBytes,
    authorizeWarm,
    routing: yield* Routing,
    gateway: yield* ProviderGateway,
    health,
    usageLimiter: yield* UsageLimiter,
    usageSink: yield* UsageSink,
    responder,
    metrics,
    end: endWarm,
    handOver: {
      inFiber,
      admitAndForward,
      recorded,
      answer,
      estimate: estimateCompletionUsage,
      estimateStream: estimateStreamUsage
    }
  })

  const answerWarm = (req: IncomingMessage, res: ServerResponse, state: RequestState, match: RouteMatch): boolean => {
    if (config.tracing || match._tag !== "Route") return false
    const traceId = parseTraceparent(headerValue(req.headers, "traceparent"))?.traceId ?? randomTraceId()
    if (match.route === "POST /v1/chat/completions") {
      state.template = match.template
      state.traceId = traceId
      return warmChat(req, res, state)
    }
    if (match.route !== "GET /v1/internal/auth-probe" && match.route !== "GET /v1/orgs/{org_id}/auth-probe")
      return false
    return authorizeWarm(req, state, match.route, match.pathOrgId, (result) => {
      state.template = match.template
      state.traceId = traceId
      if (Either.isLeft(result)) return endWarm(req, res, state, result.left)
      try {
        sendProbe(res, state, result.right)
      } catch (defect) {
        return endWarm(req, res, state, Cause.die(defect))
      }
      accessLog(state)
    })
  }

  // Last resort: a request's program recovers from every failure, so this answers only on
  // interruption. Every fiber's end passes here: an interrupted request has ended too.
  const lastResort = (res: ServerResponse, state: RequestState, exit: Exit.Exit<void>) => {
    if (Exit.isFailure(exit) && !res.headersSent) {
      if (state.traceId === "") state.traceId = randomTraceId()
      sendError(res, state, new InternalError())
    }
    finish(state)
  }

  const onRequest = (listener: Listener) => (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now()
    const state = newRequestState(
      Option.getOrElse(parseInboundRequestId(headerValue(req.headers, requestIdHeader)), newRequestId),
      req.method ?? "GET",
      started
    )
    drain.begin()
    // One listener per request for both: 'close' follows 'finish' for an answer that completed.
    // `on`, not `once`: a response closes once, and `once` wraps the listener on every request.
    res.on("close", () => {
      drain.end()
      if (res.writableFinished)
        metrics.observeRequest(state.method, state.template, state.status, (performance.now() - started) / 1000)
    })
    res.on("error", ignoreError)
    const match = refusedHeaders(req.rawHeaders) ? undefined : matchOn(listener, req.method ?? "GET", req.url ?? "/")
    if (match !== undefined && answerWarm(req, res, state, match)) return
    runFork(handle(req, res, state, match)).addObserver((exit) => lastResort(res, state, exit))
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

  const listen = (server: Server, host: string, port: number) =>
    Effect.async<number, ProxyListenError>((resume) => {
      const onError = (e: Error & { code?: string }) =>
        resume(Effect.fail(new ProxyListenError({ host, port, code: e.code ?? "UNKNOWN" })))
      server.once("error", onError)
      server.listen(port, host, () => {
        server.off("error", onError)
        server.on("error", () => {})
        const address = server.address()
        resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : port))
      })
    })

  const newServer = (listener: Listener): Server => {
    // requestTimeout bounds receiving the request only; a long stream back is not cut by it.
    const server = createServer({
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: Math.min(config.headersTimeoutMs, config.requestTimeoutMs),
      keepAliveTimeout: 5_000
    })
    if (listener === "main") server.maxConnections = config.maxConnections
    server.on("request", onRequest(listener))
    server.on("clientError", onClientError)
    return server
  }

  let adminUrl: string | null = null
  if (config.adminPort !== null) {
    const admin = newServer("admin")
    // Acquired before the main listener, so released after it drained (a scope releases in
    // reverse): /ready there says "draining" with 503, and /metrics is scraped, until the end.
    const adminPort = yield* Effect.acquireRelease(listen(admin, config.adminHost, config.adminPort), () =>
      Effect.async<void>((resume) => {
        admin.close(() => resume(Effect.void))
        admin.closeAllConnections()
      })
    )
    adminUrl = urlOf(config.adminHost, adminPort)
    yield* Effect.logInfo({ event: "proxy_admin_listening", host: config.adminHost, port: adminPort, url: adminUrl })
  }
  const server = newServer("main")
  const port = yield* Effect.acquireRelease(listen(server, config.host, config.port), () => drain.run(server))

  const url = urlOf(config.host, port)
  yield* Effect.logInfo({ event: "proxy_listening", host: config.host, port, url })
  return { host: config.host, port, url, adminUrl, metrics }
})

/** The proxy as a Layer: listens while the layer's scope is open, drains when it closes. */
export const ProxyHttpLive: Layer.Layer<ProxyServer, ProxyListenError, Requirements | ProxyConfig> = Layer.scoped(
  ProxyServer,
  makeProxyServer
)

export type { ProxyConfigShape }
