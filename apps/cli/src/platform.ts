import { userInfo } from "node:os"
import {
  auditRecord,
  type ManagementError,
  PlatformAdminClient,
  PlatformAdminClientLive,
  SecretHasherArgon2,
  type TlsMaterial,
  type UsageCallError,
  UsageClient,
  UsageClientLive
} from "@ibex/auth-adapter-grpc"
import {
  type CreatedToken,
  createOrgAgent,
  createOrgToken,
  getOrg,
  getOrgLimits,
  listOrgAgents,
  listOrgs,
  listOrgTokens,
  type OnboardedOrg,
  type OnboardOrgInput,
  type OrgLimitsInput,
  type OrgLimitsView,
  onboardOrg,
  queryUsage,
  renameOrg,
  resolveOrg,
  revokeOrgToken,
  setOrgAgentStatus,
  setOrgLimits,
  setOrgRateLimit,
  setOrgStatus,
  type UsageReport,
  type UsageReportInput
} from "@ibex/auth-core"
import {
  type Agent,
  type AgentStatus,
  AuditLog,
  type DomainError,
  type Org,
  type OrgStatus,
  type Permissions,
  type PlatformActor,
  SecureRandomWebCrypto,
  type TokenId,
  type TokenInfo
} from "@ibex/domain"
import { Console, Context, Effect, Layer, Option, type Redacted, type Scope } from "effect"
import { cliEnv, grpcTls, stackTls } from "./common.js"
import type { CliEnv } from "./config.js"
import { embeddedState, openDatabase, storesOn } from "./database.js"
import { type CliError, operationError, usageError } from "./output.js"

/**
 * What the platform commands (org, agent, token --org) run on: the same operations either
 * directly on the database as its owner (DATABASE_URL, or a free embedded folder), or through the
 * auth service's PlatformAdminService (IBEX_ADMIN_TOKEN set, or a running embedded stack, whose
 * in-process caches only hear changes made by that process: an org disabled or an agent paused
 * through it reaches them at once). Both paths run the same domain use cases, audited with the
 * acting admin.
 */
export interface Platform {
  /** Where the commands act, for messages. */
  readonly where: string
  readonly onboard: (input: OnboardOrgInput) => Effect.Effect<OnboardedOrg, CliError>
  readonly listOrgs: Effect.Effect<ReadonlyArray<Org>, CliError>
  readonly getOrg: (ref: string) => Effect.Effect<Org, CliError>
  readonly renameOrg: (ref: string, name: string) => Effect.Effect<Org, CliError>
  readonly setRateLimit: (ref: string, perMinute: number | null) => Effect.Effect<Org, CliError>
  readonly setStatus: (ref: string, status: OrgStatus) => Effect.Effect<Org, CliError>
  readonly createToken: (
    ref: string,
    input: { readonly name: string; readonly permissions: Permissions.Permissions; readonly expiresAt: Date | null }
  ) => Effect.Effect<CreatedToken, CliError>
  readonly listTokens: (
    ref: string,
    page: { readonly pageSize?: number | undefined; readonly pageToken?: string | undefined }
  ) => Effect.Effect<{ readonly tokens: ReadonlyArray<TokenInfo>; readonly nextPageToken: string | null }, CliError>
  readonly revokeToken: (ref: string, tokenId: TokenId) => Effect.Effect<TokenInfo, CliError>
  readonly createAgent: (ref: string, name: string) => Effect.Effect<Agent, CliError>
  readonly listAgents: (ref: string) => Effect.Effect<ReadonlyArray<Agent>, CliError>
  readonly setAgentStatus: (ref: string, agentId: string, status: AgentStatus) => Effect.Effect<Agent, CliError>
  /** The org's usage report (`ibex usage --org`). */
  readonly queryUsage: (ref: string, input: UsageReportInput) => Effect.Effect<UsageReport, CliError>
  /** The org's limits and its spend this month (`ibex budget get --org`). */
  readonly getLimits: (ref: string) => Effect.Effect<OrgLimitsView, CliError>
  /** Replaces the org's limits (`ibex budget set --org`). */
  readonly setLimits: (ref: string, limits: OrgLimitsInput) => Effect.Effect<OrgLimitsView, CliError>
}

const noOrg = (ref: string) => operationError(`no org with id or name "${ref.slice(0, 200)}"`)

/** Domain failures of the direct path, explained. */
const explainDirect =
  (what: { readonly org: string; readonly resource?: string }) =>
  (error: DomainError): CliError => {
    switch (error._tag) {
      case "ValidationFailed":
        return usageError(error.fieldErrors.map((f) => `${f.field}: ${f.message}`).join("; ") || "invalid request")
      case "ResourceNotFound":
        return error.resource === "org"
          ? noOrg(what.org)
          : operationError(`no such ${error.resource} in org ${what.org}`)
      case "StoreUnavailable":
        return operationError(
          "the database is unreachable or not migrated (run `ibex db migrate` first, check DATABASE_URL)"
        )
      default:
        return operationError(`the operation failed (${error._tag})`)
    }
  }

/** Failures of the remote path, explained; never with the credential. */
const explainRemote =
  (target: string, source: string, what: { readonly org: string; readonly resource?: string }) =>
  (error: ManagementError): CliError => {
    switch (error._tag) {
      case "InvalidToken":
        return operationError(
          `the auth service at ${target} refused the platform-admin credential (${source}): unknown, revoked, or not a platform-admin credential`
        )
      case "ResourceNotFound":
        return what.resource === undefined
          ? noOrg(what.org)
          : operationError(`no such ${what.resource} in org ${what.org}`)
      case "ValidationFailed":
        return usageError("the auth service rejected the request as invalid (check names, limits and expiry)")
      case "InsufficientPermissions":
        return operationError("permission denied by the auth service")
      case "ServiceDegraded":
        return operationError(
          `the auth service at ${target} did not answer: is it running? Set AUTH_GRPC_TARGET to its host:port`
        )
    }
  }

/** Audit lines of the direct path: one JSON line each on stderr (stdout stays the command's output). */
export const AuditLogStderr = Layer.succeed(
  AuditLog,
  AuditLog.of({
    record: (event) =>
      Console.error(JSON.stringify({ time: new Date().toISOString(), level: "INFO", ...auditRecord(event) }))
  })
)

const direct = (env: CliEnv) =>
  Effect.gen(function* () {
    const target = yield* openDatabase(env)
    const actor: PlatformActor = { kind: "database_owner", name: safeUser() }
    const services = storesOn(target).pipe(
      Layer.merge(Layer.mergeAll(SecretHasherArgon2(), SecureRandomWebCrypto, AuditLogStderr))
    )
    const context = yield* Layer.build(services).pipe(
      Effect.mapError(() =>
        operationError("the database is unreachable or not migrated (run `ibex db migrate` first, check DATABASE_URL)")
      )
    )
    const run = <A>(
      what: { readonly org: string; readonly resource?: string },
      effect: Effect.Effect<A, DomainError, Layer.Layer.Success<typeof services>>
    ) => effect.pipe(Effect.provide(context), Effect.mapError(explainDirect(what)))
    const inOrg = <A>(
      ref: string,
      body: (org: Org) => Effect.Effect<A, DomainError, Layer.Layer.Success<typeof services>>,
      resource?: string
    ) => run({ org: ref, ...(resource ? { resource } : {}) }, Effect.flatMap(resolveOrg(ref), body))
    return {
      where: target.kind === "embedded" ? "the embedded database" : "DATABASE_URL",
      onboard: (input) => run({ org: input.name }, onboardOrg(actor, input)),
      listOrgs: run({ org: "-" }, listOrgs(actor)),
      getOrg: (ref) => run({ org: ref }, getOrg(actor, ref)),
      renameOrg: (ref, name) => inOrg(ref, (org) => renameOrg(actor, org.id, name)),
      setRateLimit: (ref, perMinute) => inOrg(ref, (org) => setOrgRateLimit(actor, org.id, perMinute)),
      setStatus: (ref, status) => inOrg(ref, (org) => setOrgStatus(actor, org.id, status)),
      createToken: (ref, input) => inOrg(ref, (org) => createOrgToken(actor, org.id, input)),
      listTokens: (ref, page) =>
        inOrg(ref, (org) =>
          Effect.map(
            listOrgTokens(actor, org.id, { limit: page.pageSize ?? 50, cursor: page.pageToken ?? null }),
            (p) => ({ tokens: p.tokens, nextPageToken: p.nextCursor })
          )
        ),
      revokeToken: (ref, tokenId) => inOrg(ref, (org) => revokeOrgToken(actor, org.id, tokenId), "token"),
      createAgent: (ref, name) => inOrg(ref, (org) => createOrgAgent(actor, org.id, name)),
      listAgents: (ref) => inOrg(ref, (org) => listOrgAgents(actor, org.id)),
      setAgentStatus: (ref, agentId, status) =>
        inOrg(ref, (org) => setOrgAgentStatus(actor, org.id, agentId as Agent["id"], status), "agent"),
      queryUsage: (ref, input) => run({ org: ref }, queryUsage(actor, ref, input)),
      getLimits: (ref) => run({ org: ref }, getOrgLimits(actor, ref)),
      setLimits: (ref, limits) => run({ org: ref }, setOrgLimits(actor, ref, limits))
    } satisfies Platform
  })

export const safeUser = (): string => {
  try {
    return userInfo().username.slice(0, 64) || "unknown"
  } catch {
    return "unknown"
  }
}

const remote = (
  target: string,
  credential: Redacted.Redacted<string>,
  source: string,
  where: string,
  tls: TlsMaterial | undefined
) =>
  Effect.gen(function* () {
    const client = yield* Layer.build(PlatformAdminClientLive({ target, credential, tls })).pipe(
      Effect.map((ctx) => Context.get(ctx, PlatformAdminClient))
    )
    const usage = yield* Layer.build(UsageClientLive({ target, tls })).pipe(
      Effect.map((ctx) => Context.get(ctx, UsageClient))
    )
    const explain = (what: { readonly org: string; readonly resource?: string }) => explainRemote(target, source, what)
    // The UsageService takes a PAT too, in its own org only: "another org" means the credential was a PAT.
    const explainUsage =
      (ref: string) =>
      (error: UsageCallError): CliError =>
        error._tag === "OrgAccessDenied"
          ? operationError(
              `the auth service at ${target} refused the platform-admin credential (${source}): it is an org's PAT, which acts only in its own org`
            )
          : explainRemote(target, source, { org: ref })(error)
    const org = (ref: string) => ({ org: ref })
    return {
      where,
      onboard: (input) =>
        client
          .createOrg({
            name: input.name,
            rateLimitPerMinute: input.rateLimitPerMinute,
            tokenName: input.tokenName,
            tokenExpiresAt: input.tokenExpiresAt,
            agentName: input.agentName ?? null
          })
          .pipe(Effect.mapError(explain(org(input.name)))),
      listOrgs: client.listOrgs.pipe(Effect.mapError(explain(org("-")))),
      getOrg: (ref) => client.getOrg(ref).pipe(Effect.mapError(explain(org(ref)))),
      renameOrg: (ref, name) => client.renameOrg(ref, name).pipe(Effect.mapError(explain(org(ref)))),
      setRateLimit: (ref, perMinute) => client.setOrgRateLimit(ref, perMinute).pipe(Effect.mapError(explain(org(ref)))),
      setStatus: (ref, status) =>
        (status === "disabled" ? client.disableOrg(ref) : client.enableOrg(ref)).pipe(
          Effect.mapError(explain(org(ref)))
        ),
      // The org is resolved first, so a NOT_FOUND after it names the token or agent.
      createToken: (ref, input) =>
        client
          .getOrg(ref)
          .pipe(
            Effect.mapError(explain(org(ref))),
            Effect.zipRight(client.createOrgToken(ref, input).pipe(Effect.mapError(explain(org(ref)))))
          ),
      listTokens: (ref, page) => client.listOrgTokens(ref, page).pipe(Effect.mapError(explain(org(ref)))),
      revokeToken: (ref, tokenId) =>
        client
          .getOrg(ref)
          .pipe(
            Effect.mapError(explain(org(ref))),
            Effect.zipRight(
              client.revokeOrgToken(ref, tokenId).pipe(Effect.mapError(explain({ org: ref, resource: "token" })))
            )
          ),
      createAgent: (ref, name) => client.createOrgAgent(ref, name).pipe(Effect.mapError(explain(org(ref)))),
      listAgents: (ref) => client.listOrgAgents(ref).pipe(Effect.mapError(explain(org(ref)))),
      setAgentStatus: (ref, agentId, status) =>
        client
          .getOrg(ref)
          .pipe(
            Effect.mapError(explain(org(ref))),
            Effect.zipRight(
              client
                .setOrgAgentStatus(ref, agentId, status)
                .pipe(Effect.mapError(explain({ org: ref, resource: "agent" })))
            )
          ),
      queryUsage: (ref, input) =>
        usage
          .query(credential, { org: ref, since: input.since, until: input.until, groupBy: input.groupBy })
          .pipe(Effect.mapError(explainUsage(ref))),
      getLimits: (ref) => usage.getLimits(credential, ref).pipe(Effect.mapError(explainUsage(ref))),
      setLimits: (ref, limits) => usage.setLimits(credential, limits, ref).pipe(Effect.mapError(explainUsage(ref)))
    } satisfies Platform
  })

/**
 * The platform for this environment: IBEX_ADMIN_TOKEN → the PlatformAdminService at
 * AUTH_GRPC_TARGET; else DATABASE_URL → that database; else the embedded folder, directly when
 * free, through the running stack's PlatformAdminService when a stack holds it.
 */
export const platform: Effect.Effect<Platform, CliError, Scope.Scope> = Effect.gen(function* () {
  const env = yield* cliEnv
  if (Option.isSome(env.adminToken))
    return yield* remote(
      env.authTarget,
      env.adminToken.value,
      "IBEX_ADMIN_TOKEN",
      `the auth service at ${env.authTarget}`,
      yield* grpcTls(env)
    )
  if (Option.isSome(env.databaseUrl)) return yield* direct(env)
  const state = yield* embeddedState(env.dataDir)
  if (state._tag === "RunningStack")
    return yield* remote(
      state.endpoint.authGrpc,
      state.endpoint.adminCredential,
      "the running stack's local credential",
      `the running stack (pid ${state.endpoint.pid})`,
      state.endpoint.tls === undefined ? yield* grpcTls(env) : yield* stackTls(state.endpoint.tls)
    )
  return yield* direct(env)
})
