import { existsSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import {
  type handleServerStreamingCall,
  type handleUnaryCall,
  type Metadata,
  Server,
  type ServerUnaryCall,
  type sendUnaryData,
  status
} from "@grpc/grpc-js"
import * as protoLoader from "@grpc/proto-loader"
import { ReflectionService } from "@grpc/reflection"
import {
  AgentVerifier,
  createToken,
  decodePageToken,
  encodePageToken,
  InvalidationHub,
  listTokens as listTokensUseCase,
  revokeToken as revokeTokenUseCase,
  TokenValidator
} from "@ibex/auth-core"
import {
  AgentId,
  type AgentStore,
  AgentVerdict,
  AuditLog,
  type DomainError,
  FieldError,
  InsufficientPermissions,
  isCanonicalUuid,
  type ManagementRpc,
  MissingToken,
  OrgId,
  Permissions,
  type Principal,
  parseTraceparent,
  RpcPermissions,
  type SecretHasher,
  type SecureRandom,
  TokenDigest,
  TokenId,
  TokenStore,
  ValidationFailed
} from "@ibex/domain"
import {
  Cause,
  Clock,
  Context,
  Data,
  Effect,
  Either,
  Exit,
  FiberId,
  FiberSet,
  Layer,
  Metric,
  Option,
  Redacted,
  Runtime,
  Schema,
  type Scope,
  Stream,
  Tracer
} from "effect"
import { HealthImplementation, protoPath as healthProtoPath } from "grpc-health-check"
import { invalidationToWire, verdictToWire } from "./authorizationWire.js"
import { PlatformAdminServiceService } from "./gen/ibex/auth/v1/admin.js"
import {
  AgentStatus,
  type AuthServiceServer,
  AuthServiceService,
  type WatchInvalidationsRequest,
  type WatchInvalidationsResponse,
  AgentVerdict as WireAgentVerdict
} from "./gen/ibex/auth/v1/auth.js"
import { UsageServiceService } from "./gen/ibex/auth/v1/usage.js"
import { countRpc, listTokensTotal, managementRefusedTotal, tokenCreatedTotal, tokenRevokedTotal } from "./metrics.js"
import { makePlatformAdminHandlers, type PlatformAdminServices } from "./PlatformAdminGrpc.js"
import { tokenInfoToWire } from "./PlatformAdminWire.js"
import { normalizedForReflection } from "./reflectionDescriptors.js"
import { toGrpcFailure } from "./status.js"
import { proxyOnly, serverCredentials, type TlsMaterial } from "./tls.js"
import { makeUsageHandlers, USAGE_SERVICE_NAME, type UsageServices } from "./UsageGrpc.js"
import { answerUnary } from "./unaryCall.js"

export const AUTH_SERVICE_NAME = "ibex.auth.v1.AuthService"
const AUTH_PROTO = "ibex/auth/v1/auth.proto"

/**
 * The largest request gRPC accepts. Most are tiny (a token, two UUIDs, a name); the bound is set
 * by RecordUsage's batches: 500 records of at most ~1.1 KB each (three 256-character names, a
 * 128-character request id, three UUIDs, the counters) fit. Anything larger is refused by gRPC
 * itself (RESOURCE_EXHAUSTED) before any handler runs.
 */
export const MAX_REQUEST_BYTES = 1024 * 1024

export interface AuthGrpcServerConfig {
  /** Interface to bind, e.g. 127.0.0.1 or 0.0.0.0. */
  readonly host: string
  /** 0 picks a free port; AuthGrpcServer.port tells which. */
  readonly port: number
  /** How long shutdown lets in-flight calls finish before cutting them. Default 5000 ms. */
  readonly shutdownTimeoutMs?: number | undefined
  /** Folder holding `ibex/auth/v1/auth.proto` (for reflection). Default: the repo's `proto/`, found from this file upwards. */
  readonly protoDir?: string | undefined
  /** Serve grpc.reflection (v1 and v1alpha). Default true. */
  readonly reflection?: boolean | undefined
  /**
   * Mutual TLS (issue 14 item 1): auth's certificate and key, and the CA every client certificate
   * must be signed by. Set, plaintext connections and certificates of another CA are refused at the
   * handshake, and the proxy-only RPCs answer PERMISSION_DENIED to a caller whose certificate is not
   * a proxy's (`tls.ts`). Unset: plaintext, every RPC open to every caller (in-process tests, and
   * `AUTH_GRPC_INSECURE=true`).
   */
  readonly tls?: TlsMaterial | undefined
}

/** The RPCs only a proxy calls: refused to any other certificate under mTLS. */
export const PROXY_ONLY_AUTH_RPCS = ["validateToken", "verifyAgent", "authorize", "watchInvalidations"] as const
export const PROXY_ONLY_USAGE_RPCS = ["recordUsage", "getMonthSpend"] as const

export interface AuthGrpcServerShape {
  readonly host: string
  /** The bound port (the real one when the config asked for 0). */
  readonly port: number
  /** `host:port` for clients. */
  readonly address: string
  /** Whether reflection is served (false when the proto folder was not found). */
  readonly reflection: boolean
  /** grpc.health.v1 status of "", ibex.auth.v1.AuthService and ibex.auth.v1.UsageService. */
  readonly setServing: (serving: boolean) => Effect.Effect<void>
}

export class AuthGrpcServer extends Context.Tag("@ibex/auth-adapter-grpc/AuthGrpcServer")<
  AuthGrpcServer,
  AuthGrpcServerShape
>() {}

export class ServerStartFailed extends Data.TaggedError("ServerStartFailed")<{ readonly message: string }> {}

/** What the handlers need: the domain's ports and the caching validator. */
export type AuthServerServices =
  | InvalidationHub
  | TokenValidator
  | AgentVerifier
  | TokenStore
  | AgentStore
  | SecretHasher
  | SecureRandom
  | AuditLog
  | TokenDigest
  | PlatformAdminServices
  | UsageServices

// ---------------------------------------------------------------------------------------------
// Request parsing at the edge

const invalid = (field: string, message: string) =>
  new ValidationFailed({ fieldErrors: [new FieldError({ field, message })] })

const decodeUuid =
  <A, I extends string>(schema: Schema.Schema<A, I>, field: string) =>
  (raw: string): Effect.Effect<A, ValidationFailed> => {
    const lower = raw.trim().toLowerCase()
    const decoded = Schema.decodeUnknownEither(schema)(lower)
    return Either.isRight(decoded) && isCanonicalUuid(lower)
      ? Effect.succeed(decoded.right)
      : Effect.fail(invalid(field, "must be a UUID"))
  }

export const decodeTokenId = decodeUuid(TokenId, "token_id")
export const decodeOrgId = decodeUuid(OrgId, "org_id")
export const decodeAgentId = decodeUuid(AgentId, "agent_id")

const decodePermissions = (raw: bigint): Effect.Effect<Permissions.Permissions, ValidationFailed> =>
  Either.match(Permissions.fromWire(raw), {
    onLeft: () => Effect.fail(invalid("permissions", "must be an unsigned 64-bit integer")),
    onRight: Effect.succeed
  })

const decodeExpiry = (raw: Date | undefined): Effect.Effect<Date | null, ValidationFailed> =>
  raw === undefined
    ? Effect.succeed(null)
    : Number.isNaN(raw.getTime())
      ? Effect.fail(invalid("expires_at", "must be a valid timestamp"))
      : Effect.succeed(raw)

/** `authorization: Bearer <token>`: exactly one value, the scheme case-insensitive. */
export const bearerToken = (metadata: Metadata): Option.Option<Redacted.Redacted<string>> => {
  const values = metadata.get("authorization")
  if (values.length !== 1) return Option.none()
  const value = values[0]
  if (typeof value !== "string") return Option.none()
  const match = /^Bearer +(\S+) *$/i.exec(value)
  return match?.[1] !== undefined ? Option.some(Redacted.make(match[1])) : Option.none()
}

// ---------------------------------------------------------------------------------------------
// Trace context

/**
 * The caller's span from `traceparent` metadata (W3C, strictly parsed; exactly one value), so
 * the RPC span joins the caller's trace. Malformed or repeated: none, and a fresh trace starts.
 * `tracestate` is not read: Effect spans do not carry it.
 */
export const traceParentOf = (metadata: Metadata) => {
  const values = metadata.get("traceparent")
  if (values.length !== 1) return undefined
  const value = values[0]
  return typeof value === "string" ? parseTraceparent(value) : undefined
}

/** The span attribute naming the org an RPC acts in, once known (an id, never a secret). */
const ORG_ATTRIBUTE = "ibex.org_id"
const orgKnown = (orgId: string) => Effect.annotateCurrentSpan(ORG_ATTRIBUTE, orgId)

const defectKind = (cause: Cause.Cause<unknown>): string => {
  const defect = Cause.squash(cause)
  return defect instanceof Error ? defect.name : typeof defect
}

// ---------------------------------------------------------------------------------------------
// Handlers

const LAST_USED_INTERVAL_MS = 60_000
const LAST_USED_MAX_TRACKED = 10_000

/**
 * The AuthService implementation: each RPC is an Effect run on the runtime captured from the
 * layer's context. Domain failures map through the ErrorCatalogue (`toGrpcFailure`); defects
 * answer INTERNAL with a fixed message and are logged without their payload; a cancelled call
 * interrupts its fiber.
 */
export const makeAuthServiceHandlers = (
  /** Every open invalidation stream, so the server can end them when it stops (they never end on their own). */
  openStreams: Set<{ end: () => void }> = new Set()
): Effect.Effect<AuthServiceServer, never, AuthServerServices | Scope.Scope> =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<AuthServerServices>()
    const validator = yield* TokenValidator
    const agentVerifier = yield* AgentVerifier
    const digest = yield* TokenDigest
    const audit = yield* AuditLog
    const tokens = yield* TokenStore
    const hub = yield* InvalidationHub
    // Best-effort writes off the response path live as long as the server, not longer.
    const background = yield* FiberSet.make()
    const lastTouched = new Map<string, number>()

    const unary =
      <Req, Res>(
        method: string,
        handle: (request: Req, metadata: Metadata) => Effect.Effect<Res, DomainError, AuthServerServices>
      ): handleUnaryCall<Req, Res> =>
      (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
        const count = (code: status) => countRpc(method, status[code] ?? String(code))
        const parent = traceParentOf(call.metadata)
        const effect = Effect.suspend(() => handle(call.request, call.metadata)).pipe(
          Effect.tapBoth({
            onFailure: (error) => count(toGrpcFailure(error).code),
            onSuccess: () => count(status.OK)
          }),
          // A defect is logged inside the span (so the line carries the trace id): its kind only,
          // never its message or payload, which could carry request data.
          Effect.tapErrorCause((cause) =>
            Option.isNone(Cause.failureOption(cause)) && !Cause.isInterruptedOnly(cause)
              ? Effect.zipRight(
                  Effect.flatMap(Effect.option(Effect.currentSpan), (span) =>
                    Effect.logError({
                      event: "rpc_defect",
                      rpc: method,
                      defect: defectKind(cause),
                      ...(Option.isSome(span) && typeof span.value.attributes.get(ORG_ATTRIBUTE) === "string"
                        ? { org_id: span.value.attributes.get(ORG_ATTRIBUTE) }
                        : {})
                    })
                  ),
                  count(status.INTERNAL)
                )
              : Effect.void
          ),
          Effect.withSpan(`AuthService.${method}`, {
            kind: "server",
            attributes: { "rpc.system": "grpc", "rpc.service": AUTH_SERVICE_NAME, "rpc.method": method },
            captureStackTrace: false,
            ...(parent === undefined ? {} : { parent: Tracer.externalSpan(parent) })
          }),
          Effect.annotateLogs("rpc", method)
        )
        answerUnary(runtime, effect, call, callback)
      }

    const refuse = (operation: ManagementRpc, reason: string, caller: Principal | null) =>
      Effect.zipRight(
        audit.record({
          type: "management_refused",
          orgId: caller?.orgId ?? null,
          actorTokenId: caller?.tokenId ?? null,
          operation,
          reason
        }),
        Metric.increment(Metric.tagged(managementRefusedTotal, "operation", operation))
      )

    /**
     * The management interceptor: authenticates `authorization: Bearer <PAT>` through the
     * caching validator, requires the RPC's permission (RpcPermissions, the one table), and
     * hands the caller's Principal, whose org scopes everything the handler does.
     */
    const authorize = (rpc: ManagementRpc, metadata: Metadata) =>
      Effect.gen(function* () {
        const token = bearerToken(metadata)
        if (Option.isNone(token)) {
          yield* refuse(rpc, "missing bearer token", null)
          return yield* new MissingToken()
        }
        const caller = yield* validator
          .validate(token.value)
          .pipe(Effect.tapErrorTag("InvalidToken", () => refuse(rpc, "invalid bearer token", null)))
        yield* orgKnown(caller.orgId)
        const required = RpcPermissions[rpc]
        if (!Permissions.has(caller.permissions, required)) {
          yield* refuse(rpc, `missing ${required}`, caller)
          return yield* new InsufficientPermissions({ required: [required] })
        }
        return caller
      })

    /** last_used_at, best effort: at most once a minute per token, off the response path. */
    const touchLastUsed = (tokenId: TokenId) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const last = lastTouched.get(tokenId)
        if (last !== undefined && now - last < LAST_USED_INTERVAL_MS) return Effect.void
        if (lastTouched.size >= LAST_USED_MAX_TRACKED) lastTouched.clear()
        lastTouched.set(tokenId, now)
        return Effect.asVoid(FiberSet.run(background, tokens.touchLastUsed(tokenId, new Date(now)).pipe(Effect.ignore)))
      })

    /** The agent's verdict as a value: refusals are answers the proxy caches, not errors. */
    const agentVerdict = (orgId: OrgId, rawAgentId: string) =>
      decodeAgentId(rawAgentId).pipe(
        Effect.flatMap((agentId) => agentVerifier.verify(orgId, agentId)),
        Effect.as(AgentVerdict.Authorized()),
        Effect.catchTags({
          ValidationFailed: () => Effect.succeed(AgentVerdict.NotAuthorized()),
          AgentNotAuthorized: () => Effect.succeed(AgentVerdict.NotAuthorized()),
          AgentSuspended: (e) => Effect.succeed(AgentVerdict.Suspended({ status: e.status })),
          StoreUnavailable: () => Effect.succeed(AgentVerdict.Unavailable())
        })
      )

    // A proxy that cannot keep up (its socket buffer full this far) loses its stream and
    // reconnects with an empty cache: dropping a notice silently is never an option.
    const MAX_BUFFERED_BYTES = 1024 * 1024
    const watchInvalidations: handleServerStreamingCall<WatchInvalidationsRequest, WatchInvalidationsResponse> = (
      call
    ) => {
      let sequence = 0n
      const heartbeatIntervalMs = hub.heartbeatIntervalMs
      const fiber = Runtime.runFork(runtime)(
        hub.subscribe.pipe(
          Stream.runForEach((event) =>
            Effect.suspend(() => {
              if (call.writableLength > MAX_BUFFERED_BYTES) return Effect.fail("slow consumer" as const)
              sequence++
              call.write({ sequence, heartbeatIntervalMs, ...invalidationToWire(event) })
              return Effect.void
            })
          )
        )
      )
      const stop = () => fiber.unsafeInterruptAsFork(FiberId.none)
      const handle = { end: () => call.end() }
      openStreams.add(handle)
      call.once("cancelled", stop)
      call.once("close", stop)
      fiber.addObserver((exit) => {
        openStreams.delete(handle)
        call.removeListener("cancelled", stop)
        call.removeListener("close", stop)
        if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause))
          call.destroy(Object.assign(new Error("invalidation stream lost"), { code: status.UNAVAILABLE }))
      })
    }

    return {
      authorize: unary("Authorize", (request: { token: string; agentId: string }) =>
        Effect.gen(function* () {
          const principal = yield* validator.validate(Redacted.make(request.token))
          yield* orgKnown(principal.orgId)
          yield* touchLastUsed(principal.tokenId)
          const verdict =
            request.agentId === "" ? Option.none() : Option.some(yield* agentVerdict(principal.orgId, request.agentId))
          return {
            orgId: principal.orgId,
            tokenId: principal.tokenId,
            permissions: principal.permissions,
            expiresAt: principal.expiresAt ?? undefined,
            rateLimitPerMinute: principal.rateLimitPerMinute ?? 0,
            ...(principal.tokensPerMinute === null ? {} : { tokensPerMinute: principal.tokensPerMinute }),
            ...(principal.monthlyBudgetMicroUsd === null
              ? {}
              : { monthlyBudgetMicroUsd: BigInt(principal.monthlyBudgetMicroUsd) }),
            ...Option.match(verdict, {
              onNone: () => ({
                agentVerdict: WireAgentVerdict.AGENT_VERDICT_UNSPECIFIED,
                agentStatus: AgentStatus.AGENT_STATUS_UNSPECIFIED
              }),
              onSome: verdictToWire
            })
          }
        })
      ),
      watchInvalidations,
      validateToken: unary("ValidateToken", (request: { token: string }) =>
        Effect.gen(function* () {
          const principal = yield* validator.validate(Redacted.make(request.token))
          yield* orgKnown(principal.orgId)
          yield* touchLastUsed(principal.tokenId)
          return {
            orgId: principal.orgId,
            tokenId: principal.tokenId,
            permissions: principal.permissions,
            expiresAt: principal.expiresAt ?? undefined,
            rateLimitPerMinute: principal.rateLimitPerMinute ?? 0
          }
        })
      ),
      verifyAgent: unary("VerifyAgent", (request: { orgId: string; agentId: string }) =>
        Effect.gen(function* () {
          const orgId = yield* decodeOrgId(request.orgId)
          yield* orgKnown(orgId)
          const agentId = yield* decodeAgentId(request.agentId)
          const agent = yield* agentVerifier.verify(orgId, agentId)
          return { agentId: agent.id, orgId: agent.orgId, status: AgentStatus.AGENT_STATUS_ACTIVE }
        })
      ),
      createToken: unary(
        "CreateToken",
        (request: { name: string; permissions: bigint; expiresAt?: Date | undefined }, metadata) =>
          Effect.gen(function* () {
            const caller = yield* authorize("CreateToken", metadata)
            const permissions = yield* decodePermissions(request.permissions)
            const expiresAt = yield* decodeExpiry(request.expiresAt)
            const created = yield* createToken(caller, { name: request.name, permissions, expiresAt })
            yield* Metric.increment(tokenCreatedTotal)
            return { token: Redacted.value(created.token), info: tokenInfoToWire(created.info) }
          })
      ),
      revokeToken: unary("RevokeToken", (request: { tokenId: string }, metadata) =>
        Effect.gen(function* () {
          const caller = yield* authorize("RevokeToken", metadata)
          const tokenId = yield* decodeTokenId(request.tokenId)
          const info = yield* revokeTokenUseCase(caller, tokenId)
          yield* Metric.increment(tokenRevokedTotal)
          return { info: tokenInfoToWire(info) }
        })
      ),
      listTokens: unary("ListTokens", (request: { pageSize: number; pageToken: string }, metadata) =>
        Effect.gen(function* () {
          const caller = yield* authorize("ListTokens", metadata)
          const cursor = yield* decodePageToken(digest, caller.orgId, request.pageToken)
          const page = yield* listTokensUseCase(caller, { limit: request.pageSize, cursor })
          yield* Metric.increment(listTokensTotal)
          return {
            tokens: page.tokens.map(tokenInfoToWire),
            nextPageToken: page.nextCursor === null ? "" : encodePageToken(digest, caller.orgId, page.nextCursor)
          }
        })
      )
    } satisfies AuthServiceServer
  })

// ---------------------------------------------------------------------------------------------
// The server

/** The folder holding `ibex/auth/v1/auth.proto`: the given one, else the first `proto/` found walking up from this file. */
export const findProtoDir = (start: string = dirname(fileURLToPath(import.meta.url))): string | undefined => {
  let dir = start
  for (;;) {
    const candidate = join(dir, "proto")
    if (existsSync(join(candidate, AUTH_PROTO))) return candidate
    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

const healthProtoDir = dirname(dirname(dirname(healthProtoPath)))

const addReflection = (server: Server, protoDir: string) => {
  const definition = protoLoader.loadSync(
    [AUTH_PROTO, "ibex/auth/v1/admin.proto", "ibex/auth/v1/usage.proto", "health/v1/health.proto"],
    {
      includeDirs: [protoDir, healthProtoDir],
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true
    }
  )
  new ReflectionService(normalizedForReflection(definition)).addToServer(server)
}

const bindAddress = (host: string, port: number) =>
  host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`

/**
 * The auth gRPC server as a scoped resource: binds `host:port`, serves ibex.auth.v1.AuthService,
 * PlatformAdminService and UsageService, grpc.health.v1 (SERVING for "", the AuthService and the
 * UsageService) and reflection. Closing the scope turns health to NOT_SERVING, lets in-flight calls finish (`tryShutdown`) for at most
 * `shutdownTimeoutMs`, then cuts whatever is left (`forceShutdown`).
 */
export const makeAuthGrpcServer = (config: AuthGrpcServerConfig) =>
  Effect.gen(function* () {
    const openStreams = new Set<{ end: () => void }>()
    const runtime = yield* Effect.runtime<never>()
    const onRefused = (method: string) =>
      Runtime.runFork(runtime)(
        Effect.zipRight(
          countRpc(method, "PERMISSION_DENIED"),
          Effect.logWarning({ event: "rpc_refused_not_proxy", rpc: method })
        )
      )
    const tls = config.tls
    const allHandlers = yield* makeAuthServiceHandlers(openStreams)
    const handlers = tls === undefined ? allHandlers : proxyOnly(allHandlers, PROXY_ONLY_AUTH_RPCS, onRefused)
    const adminHandlers = yield* makePlatformAdminHandlers
    const allUsageHandlers = yield* makeUsageHandlers
    const usageHandlers =
      tls === undefined ? allUsageHandlers : proxyOnly(allUsageHandlers, PROXY_ONLY_USAGE_RPCS, onRefused)
    const health = new HealthImplementation({
      "": "SERVING",
      [AUTH_SERVICE_NAME]: "SERVING",
      [USAGE_SERVICE_NAME]: "SERVING"
    })
    const protoDir = config.reflection === false ? undefined : (config.protoDir ?? findProtoDir())
    const shutdownTimeoutMs = config.shutdownTimeoutMs ?? 5_000

    const { port } = yield* Effect.acquireRelease(
      Effect.async<{ server: Server; port: number }, ServerStartFailed>((resume) => {
        const server = new Server({
          "grpc.max_receive_message_length": MAX_REQUEST_BYTES,
          "grpc.keepalive_time_ms": 60_000,
          "grpc.keepalive_timeout_ms": 10_000
        })
        server.addService(AuthServiceService, handlers)
        server.addService(PlatformAdminServiceService, adminHandlers)
        server.addService(UsageServiceService, usageHandlers)
        health.addToServer(server)
        if (protoDir !== undefined) addReflection(server, protoDir)
        server.bindAsync(bindAddress(config.host, config.port), serverCredentials(tls), (error, port) => {
          if (error !== null) {
            server.forceShutdown()
            resume(
              Effect.fail(
                new ServerStartFailed({ message: `cannot bind ${config.host}:${config.port}: ${error.message}` })
              )
            )
          } else resume(Effect.succeed({ server, port }))
        })
      }),
      ({ server }) =>
        Effect.gen(function* () {
          health.setStatus("", "NOT_SERVING")
          health.setStatus(AUTH_SERVICE_NAME, "NOT_SERVING")
          health.setStatus(USAGE_SERVICE_NAME, "NOT_SERVING")
          // Invalidation streams last as long as the server: end them, or shutdown waits for them.
          // Their proxies stop trusting their caches and reconnect (here or elsewhere).
          for (const stream of [...openStreams]) stream.end()
          // Interruptible: a finalizer runs uninterruptibly, and the timeout must be able to cut the wait.
          const drained = yield* Effect.async<void>((resume) => {
            server.tryShutdown(() => resume(Effect.void))
          }).pipe(Effect.interruptible, Effect.timeoutOption(shutdownTimeoutMs))
          if (Option.isNone(drained)) server.forceShutdown()
        })
    )
    if (config.reflection !== false && protoDir === undefined)
      yield* Effect.logWarning({ event: "grpc_reflection_disabled", reason: `${AUTH_PROTO} not found` })
    yield* Effect.logInfo({ event: "auth_grpc_listening", host: config.host, port, mtls: tls !== undefined })

    return AuthGrpcServer.of({
      host: config.host,
      port,
      address: bindAddress(config.host, port),
      reflection: protoDir !== undefined,
      setServing: (serving) =>
        Effect.sync(() => {
          const s = serving ? "SERVING" : "NOT_SERVING"
          health.setStatus("", s)
          health.setStatus(AUTH_SERVICE_NAME, s)
          health.setStatus(USAGE_SERVICE_NAME, s)
        })
    })
  })

export const AuthGrpcServerLive = (
  config: AuthGrpcServerConfig
): Layer.Layer<AuthGrpcServer, ServerStartFailed, AuthServerServices> =>
  Layer.scoped(AuthGrpcServer, makeAuthGrpcServer(config))
