import type { status as GrpcStatus, handleUnaryCall, Metadata, ServerUnaryCall, sendUnaryData } from "@grpc/grpc-js"
import { status } from "@grpc/grpc-js"
import {
  authenticatePlatformAdmin,
  createOrgAgent,
  createOrgToken,
  decodePageToken,
  encodePageToken,
  getOrg,
  listOrgAgents,
  listOrgs,
  listOrgTokens,
  onboardOrg,
  renameOrg,
  resolveOrg,
  revokeOrgToken,
  setOrgAgentStatus,
  setOrgRateLimit,
  setOrgStatus
} from "@ibex/auth-core"
import {
  type AgentStore,
  type AuditLog,
  type DomainError,
  FieldError,
  MissingToken,
  type OrgId,
  type OrgStore,
  Permissions,
  type PlatformActor,
  type PlatformAdminStore,
  type SecretHasher,
  type SecureRandom,
  TokenDigest,
  type TokenStore,
  ValidationFailed
} from "@ibex/domain"
import { Effect, Either, Metric, Option, Redacted } from "effect"
import { bearerToken, decodeAgentId, decodeTokenId } from "./AuthGrpcServer.js"
import type { PlatformAdminServiceServer } from "./gen/ibex/auth/v1/admin.js"
import type { AgentStatus } from "./gen/ibex/auth/v1/auth.js"
import { countRpc, managementRefusedTotal } from "./metrics.js"
import { agentStatusFromWire, agentToWire, orgToWire, tokenInfoToWire } from "./PlatformAdminWire.js"
import { toGrpcFailure } from "./status.js"
import { answerUnary } from "./unaryCall.js"

export const PLATFORM_ADMIN_SERVICE_NAME = "ibex.auth.v1.PlatformAdminService"

/** What the platform-admin handlers need. */
export type PlatformAdminServices =
  | PlatformAdminStore
  | OrgStore
  | AgentStore
  | TokenStore
  | SecretHasher
  | SecureRandom
  | AuditLog
  | TokenDigest

const invalid = (field: string, message: string) =>
  new ValidationFailed({ fieldErrors: [new FieldError({ field, message })] })

const decodeExpiry = (raw: Date | undefined): Effect.Effect<Date | null, ValidationFailed> =>
  raw === undefined
    ? Effect.succeed(null)
    : Number.isNaN(raw.getTime())
      ? Effect.fail(invalid("expires_at", "must be a valid timestamp"))
      : Effect.succeed(raw)

const decodePermissions = (raw: bigint) =>
  Either.match(Permissions.fromWire(raw), {
    onLeft: () => Effect.fail(invalid("permissions", "must be an unsigned 64-bit integer")),
    onRight: Effect.succeed
  })

/** A page token for ListOrgTokens: bound to the org, signed like ListTokens' (a different purpose prefix). */
const pageScope = (orgId: OrgId) => `platform-admin:${orgId}` as OrgId

/**
 * ibex.auth.v1.PlatformAdminService: every call authenticates `authorization: Bearer <platform
 * admin credential>` (a PAT is refused: it is another kind), then runs one platform use case
 * whose audit lines name the acting credential. Failures map through the ErrorCatalogue as the
 * AuthService's do; a defect answers INTERNAL without its payload.
 */
export const makePlatformAdminHandlers: Effect.Effect<PlatformAdminServiceServer, never, PlatformAdminServices> =
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<PlatformAdminServices>()
    const digest = yield* TokenDigest

    const authenticate = (method: string, metadata: Metadata) =>
      Effect.gen(function* () {
        const credential = bearerToken(metadata)
        if (Option.isNone(credential)) return yield* new MissingToken()
        return yield* authenticatePlatformAdmin(credential.value)
      }).pipe(
        Effect.tapError(() => Metric.increment(Metric.tagged(managementRefusedTotal, "operation", method))),
        Effect.tapError((e) => Effect.logWarning({ event: "platform_admin_refused", rpc: method, reason: e._tag }))
      )

    const unary =
      <Req, Res>(
        method: string,
        handle: (actor: PlatformActor, request: Req) => Effect.Effect<Res, DomainError, PlatformAdminServices>
      ): handleUnaryCall<Req, Res> =>
      (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
        const count = (code: GrpcStatus) => countRpc(method, status[code] ?? String(code))
        const effect = Effect.suspend(() =>
          Effect.flatMap(authenticate(method, call.metadata), (actor) => handle(actor, call.request))
        ).pipe(
          Effect.tapBoth({
            onFailure: (error) => count(toGrpcFailure(error).code),
            onSuccess: () => count(status.OK)
          }),
          Effect.tapDefect(() =>
            Effect.zipRight(Effect.logError({ event: "rpc_defect", rpc: method }), count(status.INTERNAL))
          ),
          Effect.withSpan(`PlatformAdminService.${method}`, {
            kind: "server",
            attributes: { "rpc.system": "grpc", "rpc.service": PLATFORM_ADMIN_SERVICE_NAME, "rpc.method": method },
            captureStackTrace: false
          }),
          Effect.annotateLogs("rpc", method)
        )
        answerUnary(runtime, effect, call, callback)
      }

    const org = (ref: string) => Effect.map(resolveOrg(ref), (o) => o.id)

    return {
      createOrg: unary(
        "CreateOrg",
        (
          actor,
          request: {
            name: string
            rateLimitPerMinute: number
            tokenName: string
            tokenExpiresAt?: Date | undefined
            agentName: string
          }
        ) =>
          Effect.gen(function* () {
            const expiresAt = yield* decodeExpiry(request.tokenExpiresAt)
            const onboarded = yield* onboardOrg(actor, {
              name: request.name,
              rateLimitPerMinute: request.rateLimitPerMinute === 0 ? null : request.rateLimitPerMinute,
              tokenName: request.tokenName === "" ? undefined : request.tokenName,
              tokenExpiresAt: expiresAt,
              agentName: request.agentName === "" ? null : request.agentName
            })
            return {
              org: orgToWire(onboarded.org),
              token: Redacted.value(onboarded.token.token),
              tokenInfo: tokenInfoToWire(onboarded.token.info),
              agent: onboarded.agent === null ? undefined : agentToWire(onboarded.agent)
            }
          })
      ),
      listOrgs: unary("ListOrgs", (actor) => Effect.map(listOrgs(actor), (orgs) => ({ orgs: orgs.map(orgToWire) }))),
      getOrg: unary("GetOrg", (actor, request: { org: string }) =>
        Effect.map(getOrg(actor, request.org), (o) => ({ org: orgToWire(o) }))
      ),
      renameOrg: unary("RenameOrg", (actor, request: { org: string; name: string }) =>
        Effect.flatMap(org(request.org), (orgId) => renameOrg(actor, orgId, request.name)).pipe(
          Effect.map((o) => ({ org: orgToWire(o) }))
        )
      ),
      setOrgRateLimit: unary("SetOrgRateLimit", (actor, request: { org: string; rateLimitPerMinute: number }) =>
        Effect.flatMap(org(request.org), (orgId) =>
          setOrgRateLimit(actor, orgId, request.rateLimitPerMinute === 0 ? null : request.rateLimitPerMinute)
        ).pipe(Effect.map((o) => ({ org: orgToWire(o) })))
      ),
      disableOrg: unary("DisableOrg", (actor, request: { org: string }) =>
        Effect.flatMap(org(request.org), (orgId) => setOrgStatus(actor, orgId, "disabled")).pipe(
          Effect.map((o) => ({ org: orgToWire(o) }))
        )
      ),
      enableOrg: unary("EnableOrg", (actor, request: { org: string }) =>
        Effect.flatMap(org(request.org), (orgId) => setOrgStatus(actor, orgId, "active")).pipe(
          Effect.map((o) => ({ org: orgToWire(o) }))
        )
      ),
      createOrgToken: unary(
        "CreateOrgToken",
        (actor, request: { org: string; name: string; permissions: bigint; expiresAt?: Date | undefined }) =>
          Effect.gen(function* () {
            const orgId = yield* org(request.org)
            const permissions = yield* decodePermissions(request.permissions)
            const expiresAt = yield* decodeExpiry(request.expiresAt)
            const created = yield* createOrgToken(actor, orgId, { name: request.name, permissions, expiresAt })
            return { token: Redacted.value(created.token), info: tokenInfoToWire(created.info) }
          })
      ),
      listOrgTokens: unary("ListOrgTokens", (actor, request: { org: string; pageSize: number; pageToken: string }) =>
        Effect.gen(function* () {
          const orgId = yield* org(request.org)
          const cursor = yield* decodePageToken(digest, pageScope(orgId), request.pageToken)
          const page = yield* listOrgTokens(actor, orgId, { limit: request.pageSize, cursor })
          return {
            tokens: page.tokens.map(tokenInfoToWire),
            nextPageToken: page.nextCursor === null ? "" : encodePageToken(digest, pageScope(orgId), page.nextCursor)
          }
        })
      ),
      revokeOrgToken: unary("RevokeOrgToken", (actor, request: { org: string; tokenId: string }) =>
        Effect.gen(function* () {
          const orgId = yield* org(request.org)
          const tokenId = yield* decodeTokenId(request.tokenId)
          return { info: tokenInfoToWire(yield* revokeOrgToken(actor, orgId, tokenId)) }
        })
      ),
      createOrgAgent: unary("CreateOrgAgent", (actor, request: { org: string; name: string }) =>
        Effect.flatMap(org(request.org), (orgId) => createOrgAgent(actor, orgId, request.name)).pipe(
          Effect.map((a) => ({ agent: agentToWire(a) }))
        )
      ),
      listOrgAgents: unary("ListOrgAgents", (actor, request: { org: string }) =>
        Effect.flatMap(org(request.org), (orgId) => listOrgAgents(actor, orgId)).pipe(
          Effect.map((agents) => ({ agents: agents.map(agentToWire) }))
        )
      ),
      setOrgAgentStatus: unary(
        "SetOrgAgentStatus",
        (actor, request: { org: string; agentId: string; status: AgentStatus }) =>
          Effect.gen(function* () {
            const orgId = yield* org(request.org)
            const agentId = yield* decodeAgentId(request.agentId)
            const target = agentStatusFromWire(request.status)
            if (target === undefined) return yield* invalid("status", "must be an agent status")
            return { agent: agentToWire(yield* setOrgAgentStatus(actor, orgId, agentId, target)) }
          })
      )
    } satisfies PlatformAdminServiceServer
  })
