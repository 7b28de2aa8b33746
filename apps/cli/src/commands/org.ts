import { Command, Options } from "@effect/cli"
import { Org, type OrgId, OrgStore, SecureRandom, SecureRandomWebCrypto, uuidFromBytes } from "@ibex/domain"
import { Clock, Effect, Option } from "effect"
import { cliEnv, handled, jsonOption } from "../common.js"
import { openDatabase, storesOn, unreachable } from "../database.js"
import { emit, operationError, usageError } from "../output.js"
import { nameArg } from "../validate.js"

export const PLATFORM_NOTE =
  "Platform-admin operation: writes directly to the database (DATABASE_URL, or the embedded PGlite when unset); Phase 1 has no RPC for it."

export const orgJson = (org: Org) => ({
  id: org.id,
  name: org.name,
  status: org.status,
  rate_limit_per_minute: org.rateLimitPerMinute,
  created_at: org.createdAt.toISOString()
})

export const newUuid = Effect.flatMap(SecureRandom, (random) =>
  Effect.map(random.bytes(16), (b) => uuidFromBytes(b, 4))
).pipe(Effect.provide(SecureRandomWebCrypto))

const createCommand = Command.make(
  "create",
  {
    json: jsonOption,
    name: Options.text("name").pipe(
      Options.withPseudoName("name"),
      Options.withDescription("Unique organization name (1 to 200 characters).")
    ),
    rateLimit: Options.integer("rate-limit").pipe(
      Options.withPseudoName("per-minute"),
      Options.withDescription("Requests per minute for the whole org (default: the proxy's default)."),
      Options.optional
    )
  },
  ({ json, name, rateLimit }) =>
    handled(
      json,
      Effect.gen(function* () {
        const orgName = yield* nameArg("--name", name, 200)
        if (Option.isSome(rateLimit) && rateLimit.value < 1)
          return yield* usageError("--rate-limit must be a positive integer (requests per minute)")
        const env = yield* cliEnv
        const target = yield* openDatabase(env)
        const org = yield* Effect.gen(function* () {
          const orgs = yield* OrgStore
          const existing = yield* orgs.findByName(orgName)
          if (Option.isSome(existing))
            return yield* operationError(`an org named "${orgName}" already exists (${existing.value.id})`)
          return yield* orgs.insert(
            new Org({
              id: (yield* newUuid) as OrgId,
              name: orgName,
              status: "active",
              rateLimitPerMinute: Option.getOrNull(rateLimit),
              createdAt: new Date(yield* Clock.currentTimeMillis)
            })
          )
        }).pipe(
          Effect.provide(storesOn(target)),
          Effect.catchTag("StoreUnavailable", () => Effect.fail(unreachable()))
        )
        yield* emit(json, orgJson(org), () => [
          `Created org ${org.id} "${org.name}"${org.rateLimitPerMinute === null ? "" : ` (rate limit ${org.rateLimitPerMinute}/min)`}`
        ])
      }).pipe(Effect.scoped)
    )
).pipe(Command.withDescription("Create an organization (direct database write: platform admin)."))

export const orgCommand = Command.make("org").pipe(
  Command.withDescription(`Organizations. ${PLATFORM_NOTE}`),
  Command.withSubcommands([createCommand])
)
