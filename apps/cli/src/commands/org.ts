import { Args, Command, Options } from "@effect/cli"
import type { CreatedToken } from "@ibex/auth-core"
import { type Agent, type Org, Permissions, SecureRandom, SecureRandomWebCrypto, uuidFromBytes } from "@ibex/domain"
import { Clock, Duration, Effect, Option, Redacted } from "effect"
import { handled, jsonOption, withSubcommandsNamed } from "../common.js"
import { emit, table, usageError } from "../output.js"
import { platform } from "../platform.js"
import { durationArg, nameArg } from "../validate.js"

export const PLATFORM_NOTE =
  "Platform-admin operations: directly on the database as its owner (DATABASE_URL, or the embedded PGlite when unset); through the auth service's PlatformAdminService when IBEX_ADMIN_TOKEN is set (at AUTH_GRPC_TARGET) or when `npm start` runs on the embedded folder (found through its ibex-stack.json). Every operation is audited with the acting admin."

export const orgJson = (org: Org) => ({
  id: org.id,
  name: org.name,
  status: org.status,
  rate_limit_per_minute: org.rateLimitPerMinute,
  created_at: org.createdAt.toISOString()
})

export const agentJson = (agent: Agent) => ({
  id: agent.id,
  org_id: agent.orgId,
  name: agent.name,
  status: agent.status,
  created_at: agent.createdAt.toISOString()
})

export const newUuid = Effect.flatMap(SecureRandom, (random) =>
  Effect.map(random.bytes(16), (b) => uuidFromBytes(b, 4))
).pipe(Effect.provide(SecureRandomWebCrypto))

const orgArg = Args.text({ name: "org" }).pipe(Args.withDescription("The organization's id (UUID) or exact name."))

const rateLimitOption = Options.integer("rate-limit").pipe(
  Options.withPseudoName("per-minute"),
  Options.withDescription("Requests per minute for the whole org (default: the proxy's default)."),
  Options.optional
)

const checkRateLimit = (rateLimit: Option.Option<number>) =>
  Option.isSome(rateLimit) && (rateLimit.value < 1 || rateLimit.value > 2_147_483_647)
    ? Effect.fail(usageError("--rate-limit must be a positive integer (requests per minute)"))
    : Effect.void

const rateLabel = (org: Org) => (org.rateLimitPerMinute === null ? "default" : `${org.rateLimitPerMinute}/min`)

const tokenLines = (token: CreatedToken) => [
  `  token   ${token.info.id} "${token.info.name}" (${Permissions.toNames(token.info.permissions).join(", ")})`,
  `          expires ${token.info.expiresAt?.toISOString() ?? "never"}`,
  "",
  "Admin token of the new org (shown once: only its Argon2id hash is stored, it cannot be shown again):",
  `  ${Redacted.value(token.token)}`
]

const createCommand = Command.make(
  "create",
  {
    json: jsonOption,
    name: Options.text("name").pipe(
      Options.withPseudoName("name"),
      Options.withDescription("Unique organization name (1 to 200 characters).")
    ),
    rateLimit: rateLimitOption,
    expiresIn: Options.text("expires-in").pipe(
      Options.withAlias("expires"),
      Options.withPseudoName("duration"),
      Options.withDescription("Lifetime of the first admin token, e.g. 30d, 12h, 2w (default: never expires)."),
      Options.optional
    ),
    tokenName: Options.text("token-name").pipe(
      Options.withPseudoName("name"),
      Options.withDescription('Label of the first admin token (default "bootstrap-admin").'),
      Options.optional
    ),
    agent: Options.text("agent").pipe(
      Options.withPseudoName("name"),
      Options.withDescription("Also create the org's first agent (active) with this name."),
      Options.optional
    )
  },
  ({ json, name, rateLimit, expiresIn, tokenName, agent }) =>
    handled(
      json,
      Effect.gen(function* () {
        const orgName = yield* nameArg("--name", name, 200)
        yield* checkRateLimit(rateLimit)
        const lifetime = Option.isSome(expiresIn) ? Option.some(yield* durationArg(expiresIn.value)) : Option.none()
        const agentName = Option.isSome(agent) ? yield* nameArg("--agent", agent.value, 200) : null
        const label = Option.isSome(tokenName) ? yield* nameArg("--token-name", tokenName.value, 128) : undefined
        const now = yield* Clock.currentTimeMillis
        const p = yield* platform
        const existing = yield* Effect.option(p.getOrg(orgName))
        if (Option.isSome(existing))
          return yield* usageError(`an org named "${orgName}" already exists (${existing.value.id})`)
        const result = yield* p.onboard({
          name: orgName,
          rateLimitPerMinute: Option.getOrNull(rateLimit),
          tokenName: label,
          tokenExpiresAt: Option.match(lifetime, {
            onNone: () => null,
            onSome: (d) => new Date(now + Duration.toMillis(d))
          }),
          agentName
        })
        const { org, token } = result
        yield* emit(
          json,
          {
            ...orgJson(org),
            token: {
              pat: Redacted.value(token.token),
              id: token.info.id,
              name: token.info.name,
              permissions: Permissions.toNames(token.info.permissions),
              expires_at: token.info.expiresAt?.toISOString() ?? null
            },
            agent: result.agent === null ? null : agentJson(result.agent)
          },
          () => [
            `Created org ${org.id} "${org.name}" (rate limit ${rateLabel(org)}) on ${p.where}`,
            ...(result.agent === null ? [] : [`  agent   ${result.agent.id} "${result.agent.name}" (active)`]),
            ...tokenLines(token),
            "",
            "Try it:",
            `  curl -i -H "Authorization: Bearer <the token above>"${result.agent === null ? "" : ` -H "X-IBEX-Agent-ID: ${result.agent.id}"`} "\${PROXY_URL:-http://127.0.0.1:8080}/v1/orgs/${org.id}/auth-probe"`
          ]
        )
      }).pipe(Effect.scoped)
    )
).pipe(
  Command.withDescription(
    "Onboard an organization: creates it, mints its first admin token (every permission; printed once) and, with --agent, its first agent. Example: ibex org create --name acme --rate-limit 100 --expires-in 30d --agent bot"
  )
)

const listCommand = Command.make("list", { json: jsonOption }, ({ json }) =>
  handled(
    json,
    Effect.gen(function* () {
      const orgs = yield* (yield* platform).listOrgs
      yield* emit(json, { orgs: orgs.map(orgJson) }, () =>
        orgs.length === 0
          ? ["No orgs."]
          : table(
              ["ID", "STATUS", "RATE LIMIT", "CREATED", "NAME"],
              orgs.map((o) => [o.id, o.status, rateLabel(o), o.createdAt.toISOString(), o.name])
            )
      )
    }).pipe(Effect.scoped)
  )
).pipe(Command.withDescription("List every organization."))

const orgLines = (org: Org) => [
  `id          ${org.id}`,
  `name        ${org.name}`,
  `status      ${org.status}`,
  `rate limit  ${rateLabel(org)}`,
  `created     ${org.createdAt.toISOString()}`
]

const showCommand = Command.make("show", { json: jsonOption, org: orgArg }, ({ json, org }) =>
  handled(
    json,
    Effect.gen(function* () {
      const found = yield* (yield* platform).getOrg(org)
      yield* emit(json, orgJson(found), () => orgLines(found))
    }).pipe(Effect.scoped)
  )
).pipe(Command.withDescription("Show one organization (by id or name)."))

const renameCommand = Command.make(
  "rename",
  {
    json: jsonOption,
    org: orgArg,
    name: Options.text("name").pipe(Options.withPseudoName("new-name"), Options.withDescription("The new unique name."))
  },
  ({ json, org, name }) =>
    handled(
      json,
      Effect.gen(function* () {
        const newName = yield* nameArg("--name", name, 200)
        const p = yield* platform
        const holder = yield* Effect.option(p.getOrg(newName))
        const target = yield* p.getOrg(org)
        if (Option.isSome(holder) && holder.value.id !== target.id)
          return yield* usageError(`an org named "${newName}" already exists (${holder.value.id})`)
        const renamed = yield* p.renameOrg(target.id, newName)
        yield* emit(json, orgJson(renamed), () => [`Org ${renamed.id} is now named "${renamed.name}"`])
      }).pipe(Effect.scoped)
    )
).pipe(Command.withDescription("Rename an organization."))

const rateLimitCommand = Command.make(
  "rate-limit",
  {
    json: jsonOption,
    org: orgArg,
    limit: Args.text({ name: "per-minute|none" }).pipe(
      Args.withDescription('Requests per minute for the whole org, or "none" to clear it (the proxy default applies).')
    )
  },
  ({ json, org, limit }) =>
    handled(
      json,
      Effect.gen(function* () {
        const text = limit.trim().toLowerCase()
        const perMinute =
          text === "none" || text === "clear" ? null : /^\d{1,10}$/.test(text) ? Number(text) : Number.NaN
        if (perMinute !== null && !(perMinute >= 1 && perMinute <= 2_147_483_647))
          return yield* usageError('the rate limit must be a positive integer (requests per minute) or "none"')
        const updated = yield* (yield* platform).setRateLimit(org, perMinute)
        yield* emit(json, orgJson(updated), () => [
          `Org ${updated.id} "${updated.name}": rate limit ${rateLabel(updated)}`
        ])
      }).pipe(Effect.scoped)
    )
).pipe(Command.withDescription("Set an organization's rate limit, or clear it with none."))

const statusCommand = (name: "disable" | "enable", description: string) =>
  Command.make(name, { json: jsonOption, org: orgArg }, ({ json, org }) =>
    handled(
      json,
      Effect.gen(function* () {
        const updated = yield* (yield* platform).setStatus(org, name === "disable" ? "disabled" : "active")
        yield* emit(json, orgJson(updated), () => [
          `Org ${updated.id} "${updated.name}" is now ${updated.status}` +
            (updated.status === "disabled"
              ? " (its tokens are refused within 300 ms; its data is kept)"
              : " (its tokens work again)")
        ])
      }).pipe(Effect.scoped)
    )
  ).pipe(Command.withDescription(description))

const orgSubcommands = [
  createCommand,
  listCommand,
  showCommand,
  renameCommand,
  rateLimitCommand,
  statusCommand(
    "disable",
    "Disable an organization: its tokens are refused within the revocation SLA (300 ms); data kept."
  ),
  statusCommand("enable", "Enable a disabled organization: its tokens work again.")
] as const

export const orgCommand = Command.make("org").pipe(
  Command.withDescription(
    withSubcommandsNamed(
      `Organizations. Onboarding: \`ibex org create --name acme --agent bot --expires-in 30d\` prints the org's first admin token and agent id; \`ibex org disable acme\` stops its tokens within 300 ms, \`ibex org enable acme\` restores them. ${PLATFORM_NOTE}`,
      "org",
      orgSubcommands
    )
  ),
  Command.withSubcommands(orgSubcommands)
)
