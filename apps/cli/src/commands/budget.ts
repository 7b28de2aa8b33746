import { Command, Options } from "@effect/cli"
import type { OrgLimitsInput, OrgLimitsView } from "@ibex/auth-core"
import { Effect, Option, type Redacted } from "effect"
import { handled, jsonOption, withSubcommandsNamed } from "../common.js"
import { meteringOrgOption, meteringTokenOption, parseUsd, usd, withUsageClient } from "../metering.js"
import { type CliError, emit, usageError } from "../output.js"
import { platform } from "../platform.js"

/** The limits as `--json` prints them: integers, the money also as exact USD text; null: no limit. */
export const limitsJson = (view: OrgLimitsView) => ({
  org_id: view.orgId,
  tokens_per_minute: view.limits.tokensPerMinute,
  monthly_budget_micro_usd: view.limits.monthlyBudgetMicroUsd,
  monthly_budget_usd: view.limits.monthlyBudgetMicroUsd === null ? null : usd(view.limits.monthlyBudgetMicroUsd),
  month_start: view.monthStart.toISOString(),
  month_spend_micro_usd: view.monthSpendMicroUsd,
  month_spend_usd: usd(view.monthSpendMicroUsd)
})

export const limitsLines = (view: OrgLimitsView): Array<string> => [
  `Limits of org ${view.orgId}`,
  `  tokens per minute  ${view.limits.tokensPerMinute ?? "none"}`,
  `  monthly budget     ${view.limits.monthlyBudgetMicroUsd === null ? "none" : `${usd(view.limits.monthlyBudgetMicroUsd)} USD`}`,
  `  spent this month   ${usd(view.monthSpendMicroUsd)} USD (since ${view.monthStart.toISOString()})`
]

/** A change of limits: applied to the current ones, or (`--clear`) to none. */
interface LimitsChange {
  readonly fromScratch: boolean
  readonly apply: (current: OrgLimitsView | null) => OrgLimitsInput
}

/** Reads (and with `change`, replaces) the limits as a platform admin (`--org`) or as the caller's PAT. */
const onLimits = (
  org: Option.Option<string>,
  token: Option.Option<Redacted.Redacted<string>>,
  change: Option.Option<LimitsChange>
): Effect.Effect<OrgLimitsView, CliError> => {
  const run = <E>(
    get: Effect.Effect<OrgLimitsView, E>,
    set: (limits: OrgLimitsInput) => Effect.Effect<OrgLimitsView, E>
  ): Effect.Effect<OrgLimitsView, E> =>
    Option.match(change, {
      onNone: () => get,
      onSome: (c) => Effect.flatMap(c.fromScratch ? Effect.succeed(null) : get, (current) => set(c.apply(current)))
    })
  return Option.isSome(org)
    ? Effect.scoped(
        Effect.flatMap(platform, (p) => run(p.getLimits(org.value), (limits) => p.setLimits(org.value, limits)))
      )
    : withUsageClient(token, "budget:manage", (client, bearer) =>
        run(client.getLimits(bearer), (limits) => client.setLimits(bearer, limits))
      )
}

const setCommand = Command.make(
  "set",
  {
    json: jsonOption,
    token: meteringTokenOption,
    org: meteringOrgOption,
    monthlyUsd: Options.text("monthly-usd").pipe(
      Options.withPseudoName("usd"),
      Options.withDescription(
        "Spend limit per UTC calendar month in USD (at most 6 decimals); 0 allows no spend at all."
      ),
      Options.optional
    ),
    tokensPerMinute: Options.integer("tokens-per-minute").pipe(
      Options.withPseudoName("n"),
      Options.withDescription("Prompt plus completion tokens per minute for the whole org."),
      Options.optional
    ),
    clear: Options.boolean("clear").pipe(
      Options.withDescription(
        "Start from no limits instead of the current ones: alone it removes both; with a flag above it keeps only that limit."
      )
    )
  },
  ({ json, token, org, monthlyUsd, tokensPerMinute, clear }) =>
    handled(
      json,
      Effect.gen(function* () {
        if (Option.isNone(monthlyUsd) && Option.isNone(tokensPerMinute) && !clear)
          return yield* usageError("nothing to set: give --monthly-usd, --tokens-per-minute or --clear")
        const budget = Option.isSome(monthlyUsd)
          ? Option.some(yield* parseUsd("--monthly-usd", monthlyUsd.value))
          : Option.none()
        if (Option.isSome(tokensPerMinute) && (tokensPerMinute.value < 1 || tokensPerMinute.value > 2_147_483_647))
          return yield* usageError("--tokens-per-minute must be an integer from 1 to 2147483647")
        const view = yield* onLimits(
          org,
          token,
          Option.some({
            fromScratch: clear,
            apply: (current) => ({
              tokensPerMinute: Option.getOrElse(tokensPerMinute, () => current?.limits.tokensPerMinute ?? null),
              monthlyBudgetMicroUsd: Option.getOrElse(budget, () => current?.limits.monthlyBudgetMicroUsd ?? null)
            })
          })
        )
        yield* emit(json, limitsJson(view), () => limitsLines(view))
      })
    )
).pipe(
  Command.withDescription(
    "Set your org's token limit and monthly budget (PAT with budget:manage, over gRPC), or with --org a named org's (platform admin). Limits not given are kept; the proxies apply the change at once."
  )
)

const getCommand = Command.make(
  "get",
  { json: jsonOption, token: meteringTokenOption, org: meteringOrgOption },
  ({ json, token, org }) =>
    handled(
      json,
      Effect.gen(function* () {
        const view = yield* onLimits(org, token, Option.none())
        yield* emit(json, limitsJson(view), () => limitsLines(view))
      })
    )
).pipe(
  Command.withDescription(
    "Show your org's token limit, monthly budget and spend this month (PAT with budget:manage), or with --org a named org's (platform admin)."
  )
)

export const budgetCommand = Command.make("budget").pipe(
  Command.withDescription(
    withSubcommandsNamed(
      "An org's metering limits: tokens per minute and a monthly budget in USD, enforced by the proxies at admission (null: no limit).",
      "budget",
      [getCommand, setCommand]
    )
  ),
  Command.withSubcommands([getCommand, setCommand])
)
