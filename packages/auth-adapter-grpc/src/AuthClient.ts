import { type ChannelOptions, type Client, credentials, makeGenericClientConstructor, status } from "@grpc/grpc-js"
import {
  AgentNotAuthorized,
  type AgentSuspended,
  AgentVerdict,
  AuthGateway,
  type AuthGatewayShape,
  type AuthInvalidation,
  type Authorization,
  AuthUnavailable,
  InvalidToken,
  type OrgId,
  Permissions,
  type Principal,
  ServiceDegraded,
  TokenId
} from "@ibex/domain"
import { Context, Data, Effect, Layer, Option, Redacted, Schema, Stream } from "effect"
import { service as healthService } from "grpc-health-check"
import { invalidationFromWire, verdictFromWire } from "./authorizationWire.js"
import {
  type AuthorizeResponse,
  AuthServiceClient,
  type CreateTokenResponse,
  type ListTokensResponse,
  type RevokeTokenResponse,
  type ValidateTokenResponse,
  type WatchInvalidationsResponse,
  AgentVerdict as WireAgentVerdict
} from "./gen/ibex/auth/v1/auth.js"
import { agentRefusal, type ManagementError, managementError } from "./status.js"
import { channelCredentials, type TlsMaterial, tlsChannelOptions } from "./tls.js"
import { bearerMetadata, callUnary, type UnaryMethod } from "./unaryClient.js"

export interface AuthClientConfig {
  /** The auth server, `host:port` (a gRPC target). */
  readonly target: string
  /** Deadline of ValidateToken, VerifyAgent and health checks. Default 50 ms (the proxy's validation budget). */
  readonly deadlineMs?: number | undefined
  /** Deadline of the management RPCs (CreateToken hashes with Argon2id). Default 5000 ms. */
  readonly managementDeadlineMs?: number | undefined
  /** Extra or overriding grpc-js channel options. */
  readonly channelOptions?: ChannelOptions | undefined
  /** Mutual TLS: this client's certificate and key, and the CA auth's certificate must be signed by. Unset: plaintext. */
  readonly tls?: TlsMaterial | undefined
}

export const DEFAULT_DEADLINE_MS = 50
export const DEFAULT_MANAGEMENT_DEADLINE_MS = 5_000

/**
 * Channel options for the one channel per process (DESIGN.md "Loopback costs": a channel per
 * call costs 8x). A dead server fails fast (calls do not wait for ready: a refused connection
 * answers UNAVAILABLE at once) and reconnects quickly once it is back (backoff 100 ms → 1 s).
 */
export const defaultChannelOptions: ChannelOptions = {
  "grpc.keepalive_time_ms": 60_000,
  "grpc.keepalive_timeout_ms": 10_000,
  "grpc.keepalive_permit_without_calls": 1,
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 1_000,
  "grpc.max_receive_message_length": 1024 * 1024,
  "grpc.max_send_message_length": 64 * 1024,
  "grpc.enable_retries": 0
}

export type HealthStatus = "SERVING" | "NOT_SERVING" | "UNKNOWN" | "SERVICE_UNKNOWN"

/** A health check that got no answer (unreachable, deadline, unknown service). */
export class HealthCheckFailed extends Data.TaggedError("HealthCheckFailed")<{ readonly code: number }> {}

export interface CreateTokenArgs {
  readonly name: string
  readonly permissions: Permissions.Permissions
  readonly expiresAt?: Date | null | undefined
}

export interface AuthClientShape {
  /** The generated client over the layer's one channel (for callers that need raw statuses). */
  readonly raw: AuthServiceClient
  readonly deadlineMs: number
  readonly validateToken: (token: Redacted.Redacted<string>) => Effect.Effect<Principal, InvalidToken | ServiceDegraded>
  readonly verifyAgent: (
    orgId: OrgId,
    agentId: string
  ) => Effect.Effect<void, AgentNotAuthorized | AgentSuspended | AuthUnavailable>
  readonly authorize: AuthGatewayShape["authorize"]
  readonly invalidations: AuthGatewayShape["invalidations"]
  /** grpc.health.v1 Check on the same channel, with the call deadline; "" asks for the server as a whole. */
  readonly checkHealth: (service?: string) => Effect.Effect<HealthStatus, HealthCheckFailed>
  readonly createToken: (
    bearer: Redacted.Redacted<string>,
    args: CreateTokenArgs
  ) => Effect.Effect<CreateTokenResponse, ManagementError>
  readonly revokeToken: (
    bearer: Redacted.Redacted<string>,
    tokenId: string
  ) => Effect.Effect<RevokeTokenResponse, ManagementError>
  readonly listTokens: (
    bearer: Redacted.Redacted<string>,
    page?: { readonly pageSize?: number; readonly pageToken?: string }
  ) => Effect.Effect<ListTokensResponse, ManagementError>
}

export class AuthClient extends Context.Tag("@ibex/auth-adapter-grpc/AuthClient")<AuthClient, AuthClientShape>() {}

const decodeTokenId = Schema.decodeUnknownOption(TokenId)

/** Builds the principal from a response; a response that does not make one is a degraded service, not a pass. */
const toPrincipal = (
  response: Pick<ValidateTokenResponse, "orgId" | "tokenId" | "permissions" | "expiresAt" | "rateLimitPerMinute"> & {
    readonly tokensPerMinute?: number | undefined
    readonly monthlyBudgetMicroUsd?: bigint | undefined
  }
): Option.Option<Principal> => {
  const tokenId = decodeTokenId(response.tokenId)
  const permissions = Permissions.fromWire(response.permissions)
  if (Option.isNone(tokenId) || permissions._tag === "Left" || response.orgId === "") return Option.none()
  return Option.some({
    orgId: response.orgId as OrgId,
    tokenId: tokenId.value,
    permissions: permissions.right,
    expiresAt: response.expiresAt ?? null,
    rateLimitPerMinute: response.rateLimitPerMinute > 0 ? response.rateLimitPerMinute : null,
    tokensPerMinute: response.tokensPerMinute ?? null,
    monthlyBudgetMicroUsd: response.monthlyBudgetMicroUsd === undefined ? null : Number(response.monthlyBudgetMicroUsd)
  })
}

interface HealthClient extends Client {
  check: UnaryMethod<{ service: string }, { status: HealthStatus }>
}
const HealthClient = makeGenericClientConstructor(
  healthService as unknown as Parameters<typeof makeGenericClientConstructor>[0],
  "grpc.health.v1.Health"
) as unknown as new (
  target: string,
  creds: ReturnType<typeof credentials.createInsecure>,
  options: ChannelOptions & { channelOverride?: unknown }
) => HealthClient

/**
 * The client side of ibex.auth.v1 over ONE channel per layer (closed when the layer is
 * released). Statuses map to domain errors:
 *  - ValidateToken: UNAUTHENTICATED → InvalidToken (reason "unknown": the server never says
 *    which); DEADLINE_EXCEEDED, UNAVAILABLE and anything else → ServiceDegraded (fail closed);
 *  - VerifyAgent: PERMISSION_DENIED → AgentSuspended when `ibex-reason: AGENT_SUSPENDED`
 *    (status from the `ibex-agent-status` trailer, "suspended" when absent), otherwise
 *    AgentNotAuthorized (the proto's rule); INVALID_ARGUMENT → AgentNotAuthorized; anything
 *    else → AuthUnavailable (fail closed).
 */
export const makeAuthClient = (config: AuthClientConfig) =>
  Effect.gen(function* () {
    const deadlineMs = config.deadlineMs ?? DEFAULT_DEADLINE_MS
    const managementDeadlineMs = config.managementDeadlineMs ?? DEFAULT_MANAGEMENT_DEADLINE_MS
    const options = { ...defaultChannelOptions, ...tlsChannelOptions(config.tls), ...config.channelOptions }
    const client = yield* Effect.acquireRelease(
      Effect.sync(() => new AuthServiceClient(config.target, channelCredentials(config.tls), options)),
      (c) => Effect.sync(() => c.close())
    )
    // The health client rides the same channel (channelOverride): no second connection.
    const health = new HealthClient(config.target, credentials.createInsecure(), {
      channelOverride: client.getChannel()
    })

    const validateToken: AuthClientShape["validateToken"] = (token) =>
      callUnary(client.validateToken.bind(client), { token: Redacted.value(token) }, deadlineMs).pipe(
        Effect.mapError((error) =>
          error.code === status.UNAUTHENTICATED ? new InvalidToken({ reason: "unknown" }) : new ServiceDegraded()
        ),
        Effect.flatMap((response) =>
          Option.match(toPrincipal(response), {
            onNone: () => Effect.fail(new ServiceDegraded()),
            onSome: Effect.succeed
          })
        ),
        Effect.withSpan("AuthClient.ValidateToken", { kind: "client" })
      )

    const verifyAgent: AuthClientShape["verifyAgent"] = (orgId, agentId) =>
      callUnary(client.verifyAgent.bind(client), { orgId, agentId }, deadlineMs).pipe(
        Effect.mapError((error) =>
          error.code === status.PERMISSION_DENIED
            ? agentRefusal(error)
            : error.code === status.INVALID_ARGUMENT
              ? new AgentNotAuthorized()
              : new AuthUnavailable()
        ),
        Effect.asVoid,
        Effect.withSpan("AuthClient.VerifyAgent", { kind: "client" })
      )

    const authorize: AuthClientShape["authorize"] = (token, agentId, call) =>
      callUnary(
        client.authorize.bind(client),
        { token: Redacted.value(token), agentId: Option.getOrElse(agentId, () => "") },
        call?.deadlineMs ?? deadlineMs
      ).pipe(
        Effect.mapError((error) =>
          error.code === status.UNAUTHENTICATED ? new InvalidToken({ reason: "unknown" }) : new ServiceDegraded()
        ),
        Effect.flatMap((response: AuthorizeResponse) =>
          Option.match(toPrincipal(response), {
            onNone: () => Effect.fail(new ServiceDegraded()),
            onSome: (principal) =>
              Effect.succeed<Authorization>({
                principal,
                agent: Option.isNone(agentId)
                  ? Option.none()
                  : Option.some(
                      response.agentVerdict === WireAgentVerdict.AGENT_VERDICT_UNSPECIFIED
                        ? AgentVerdict.Unavailable()
                        : verdictFromWire(response.agentVerdict, response.agentStatus)
                    )
              })
          })
        ),
        Effect.withSpan("AuthClient.Authorize", { kind: "client", captureStackTrace: false })
      )

    // The stream has no deadline (it lives as long as the proxy); a gap in the sequence, an end
    // or an error all fail it, and the subscriber resets its cache and subscribes again.
    // asyncPush: an event is handed over synchronously (asyncScoped runs a fiber per event).
    const invalidations: AuthClientShape["invalidations"] = Stream.asyncPush<AuthInvalidation, AuthUnavailable>(
      (emit) =>
        Effect.acquireRelease(
          Effect.sync(() => {
            const stream = client.watchInvalidations({})
            let expected = 1n
            stream.on("data", (message: WatchInvalidationsResponse) => {
              if (message.sequence !== expected) {
                emit.fail(new AuthUnavailable())
                return
              }
              expected++
              emit.single(invalidationFromWire(message))
            })
            stream.on("error", () => emit.fail(new AuthUnavailable()))
            stream.on("end", () => emit.fail(new AuthUnavailable()))
            return stream
          }),
          (stream) =>
            Effect.sync(() => {
              stream.removeAllListeners("data")
              stream.on("error", () => {})
              stream.cancel()
            })
        ),
      { bufferSize: "unbounded" }
    )

    const checkHealth: AuthClientShape["checkHealth"] = (service = "") =>
      callUnary(health.check.bind(health), { service }, deadlineMs).pipe(
        Effect.map((r) => r.status),
        Effect.mapError((error) => new HealthCheckFailed({ code: error.code }))
      )

    const managed = <Req, Res>(
      method: UnaryMethod<Req, Res>,
      bearer: Redacted.Redacted<string>,
      request: Req,
      span: string
    ): Effect.Effect<Res, ManagementError> =>
      callUnary(method, request, managementDeadlineMs, bearerMetadata(bearer)).pipe(
        Effect.mapError(managementError),
        Effect.withSpan(span, { kind: "client" })
      )

    return AuthClient.of({
      raw: client,
      deadlineMs,
      validateToken,
      verifyAgent,
      authorize,
      invalidations,
      checkHealth,
      createToken: (bearer, args) =>
        managed(
          client.createToken.bind(client),
          bearer,
          { name: args.name, permissions: args.permissions, expiresAt: args.expiresAt ?? undefined },
          "AuthClient.CreateToken"
        ),
      revokeToken: (bearer, tokenId) =>
        managed(client.revokeToken.bind(client), bearer, { tokenId }, "AuthClient.RevokeToken"),
      listTokens: (bearer, page = {}) =>
        managed(
          client.listTokens.bind(client),
          bearer,
          { pageSize: page.pageSize ?? 0, pageToken: page.pageToken ?? "" },
          "AuthClient.ListTokens"
        )
    })
  })

/** The client and its channel; the channel closes when the layer is released. */
export const AuthClientLive = (config: AuthClientConfig): Layer.Layer<AuthClient> =>
  Layer.scoped(AuthClient, makeAuthClient(config))

/** The AuthGateway port (what the proxy consumes) over an AuthClient. */
export const AuthGatewayFromClient: Layer.Layer<AuthGateway, never, AuthClient> = Layer.effect(
  AuthGateway,
  Effect.map(AuthClient, (client) =>
    AuthGateway.of({
      validateToken: client.validateToken,
      verifyAgent: client.verifyAgent,
      authorize: client.authorize,
      invalidations: client.invalidations
    })
  )
)

/** AuthGateway over gRPC, plus the AuthClient (health check, management) on the same channel. */
export const AuthGatewayGrpc = (config: AuthClientConfig): Layer.Layer<AuthGateway | AuthClient> =>
  AuthGatewayFromClient.pipe(Layer.provideMerge(AuthClientLive(config)))
