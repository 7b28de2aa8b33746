import type { CreatedToken } from "@ibex/auth-core"
import type { Agent, AgentStatus, Org, Permissions, TokenInfo } from "@ibex/domain"
import { Context, Effect, Layer, Redacted } from "effect"
import { PlatformAdminServiceClient, type PlatformAgent, type PlatformOrg } from "./gen/ibex/auth/v1/admin.js"
import { agentFromWire, agentStatusToWire, orgFromWire, tokenInfoFromWire } from "./PlatformAdminWire.js"
import { type ManagementError, managementError } from "./status.js"
import { channelCredentials, type TlsMaterial, tlsChannelOptions } from "./tls.js"
import { bearerMetadata, callUnary, type UnaryMethod } from "./unaryClient.js"

export interface PlatformAdminClientConfig {
  /** The auth server, `host:port`. */
  readonly target: string
  /** The platform-admin credential (`ibex_padm_…`) sent as `authorization: Bearer`. */
  readonly credential: Redacted.Redacted<string>
  /** Per-call deadline. Default 15 s (each call verifies the credential with Argon2id). */
  readonly deadlineMs?: number | undefined
  /** Mutual TLS (the CLI's certificate). Unset: plaintext. */
  readonly tls?: TlsMaterial | undefined
}

export interface PlatformAdminClientShape {
  readonly createOrg: (input: {
    readonly name: string
    readonly rateLimitPerMinute: number | null
    readonly tokenName?: string | undefined
    readonly tokenExpiresAt: Date | null
    readonly agentName: string | null
  }) => Effect.Effect<{ org: Org; token: CreatedToken; agent: Agent | null }, ManagementError>
  readonly listOrgs: Effect.Effect<ReadonlyArray<Org>, ManagementError>
  readonly getOrg: (org: string) => Effect.Effect<Org, ManagementError>
  readonly renameOrg: (org: string, name: string) => Effect.Effect<Org, ManagementError>
  readonly setOrgRateLimit: (org: string, perMinute: number | null) => Effect.Effect<Org, ManagementError>
  readonly disableOrg: (org: string) => Effect.Effect<Org, ManagementError>
  readonly enableOrg: (org: string) => Effect.Effect<Org, ManagementError>
  readonly createOrgToken: (
    org: string,
    input: { readonly name: string; readonly permissions: Permissions.Permissions; readonly expiresAt: Date | null }
  ) => Effect.Effect<CreatedToken, ManagementError>
  readonly listOrgTokens: (
    org: string,
    page: { readonly pageSize?: number | undefined; readonly pageToken?: string | undefined }
  ) => Effect.Effect<{ tokens: ReadonlyArray<TokenInfo>; nextPageToken: string | null }, ManagementError>
  readonly revokeOrgToken: (org: string, tokenId: string) => Effect.Effect<TokenInfo, ManagementError>
  readonly createOrgAgent: (org: string, name: string) => Effect.Effect<Agent, ManagementError>
  readonly listOrgAgents: (org: string) => Effect.Effect<ReadonlyArray<Agent>, ManagementError>
  readonly setOrgAgentStatus: (
    org: string,
    agentId: string,
    status: AgentStatus
  ) => Effect.Effect<Agent, ManagementError>
}

export class PlatformAdminClient extends Context.Tag("@ibex/auth-adapter-grpc/PlatformAdminClient")<
  PlatformAdminClient,
  PlatformAdminClientShape
>() {}

/** A missing message field where the contract promises one: the server broke the contract. */
const required = <A>(value: A | undefined): Effect.Effect<A, ManagementError> =>
  value === undefined
    ? Effect.die(new Error("PlatformAdminService answered without a required field"))
    : Effect.succeed(value)

/** The PlatformAdminService client on one channel, closed with the layer's scope. */
export const makePlatformAdminClient = (config: PlatformAdminClientConfig) =>
  Effect.gen(function* () {
    const client = yield* Effect.acquireRelease(
      Effect.sync(
        () =>
          new PlatformAdminServiceClient(config.target, channelCredentials(config.tls), tlsChannelOptions(config.tls))
      ),
      (c) => Effect.sync(() => c.close())
    )
    const deadlineMs = config.deadlineMs ?? 15_000
    const call = <Req, Res>(name: string, method: UnaryMethod<Req, Res>, request: Req) =>
      callUnary(method.bind(client), request, deadlineMs, bearerMetadata(config.credential)).pipe(
        Effect.mapError(managementError),
        Effect.withSpan(`PlatformAdminClient.${name}`, { kind: "client" })
      )

    const org = (r: { org?: PlatformOrg | undefined }) => Effect.map(required(r.org), orgFromWire)
    const agent = (r: { agent?: PlatformAgent | undefined }) => Effect.map(required(r.agent), agentFromWire)

    return PlatformAdminClient.of({
      createOrg: (input) =>
        call("CreateOrg", client.createOrg, {
          name: input.name,
          rateLimitPerMinute: input.rateLimitPerMinute ?? 0,
          tokenName: input.tokenName ?? "",
          tokenExpiresAt: input.tokenExpiresAt ?? undefined,
          agentName: input.agentName ?? ""
        }).pipe(
          Effect.flatMap((r) =>
            Effect.all({
              org: Effect.map(required(r.org), orgFromWire),
              token: Effect.map(required(r.tokenInfo), (info) => ({
                token: Redacted.make(r.token),
                info: tokenInfoFromWire(info)
              })),
              agent: Effect.succeed(r.agent === undefined ? null : agentFromWire(r.agent))
            })
          )
        ),
      listOrgs: call("ListOrgs", client.listOrgs, {}).pipe(Effect.map((r) => r.orgs.map(orgFromWire))),
      getOrg: (ref) => call("GetOrg", client.getOrg, { org: ref }).pipe(Effect.flatMap(org)),
      renameOrg: (ref, name) => call("RenameOrg", client.renameOrg, { org: ref, name }).pipe(Effect.flatMap(org)),
      setOrgRateLimit: (ref, perMinute) =>
        call("SetOrgRateLimit", client.setOrgRateLimit, { org: ref, rateLimitPerMinute: perMinute ?? 0 }).pipe(
          Effect.flatMap(org)
        ),
      disableOrg: (ref) => call("DisableOrg", client.disableOrg, { org: ref }).pipe(Effect.flatMap(org)),
      enableOrg: (ref) => call("EnableOrg", client.enableOrg, { org: ref }).pipe(Effect.flatMap(org)),
      createOrgToken: (ref, input) =>
        call("CreateOrgToken", client.createOrgToken, {
          org: ref,
          name: input.name,
          permissions: input.permissions,
          expiresAt: input.expiresAt ?? undefined
        }).pipe(
          Effect.flatMap((r) =>
            Effect.map(required(r.info), (info) => ({ token: Redacted.make(r.token), info: tokenInfoFromWire(info) }))
          )
        ),
      listOrgTokens: (ref, page) =>
        call("ListOrgTokens", client.listOrgTokens, {
          org: ref,
          pageSize: page.pageSize ?? 0,
          pageToken: page.pageToken ?? ""
        }).pipe(
          Effect.map((r) => ({
            tokens: r.tokens.map(tokenInfoFromWire),
            nextPageToken: r.nextPageToken === "" ? null : r.nextPageToken
          }))
        ),
      revokeOrgToken: (ref, tokenId) =>
        call("RevokeOrgToken", client.revokeOrgToken, { org: ref, tokenId }).pipe(
          Effect.flatMap((r) => Effect.map(required(r.info), tokenInfoFromWire))
        ),
      createOrgAgent: (ref, name) =>
        call("CreateOrgAgent", client.createOrgAgent, { org: ref, name }).pipe(Effect.flatMap(agent)),
      listOrgAgents: (ref) =>
        call("ListOrgAgents", client.listOrgAgents, { org: ref }).pipe(Effect.map((r) => r.agents.map(agentFromWire))),
      setOrgAgentStatus: (ref, agentId, status) =>
        call("SetOrgAgentStatus", client.setOrgAgentStatus, {
          org: ref,
          agentId,
          status: agentStatusToWire[status]
        }).pipe(Effect.flatMap(agent))
    })
  })

export const PlatformAdminClientLive = (config: PlatformAdminClientConfig): Layer.Layer<PlatformAdminClient> =>
  Layer.scoped(PlatformAdminClient, makePlatformAdminClient(config))
