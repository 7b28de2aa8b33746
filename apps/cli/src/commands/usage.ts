import { Command, Options } from "@effect/cli"
import type { UsageReport } from "@ibex/auth-core"
import { monthStartUtc, type UsageGroupBy, type UsageTotals } from "@ibex/domain"
import { Clock, Effect, Option } from "effect"
import { handled, jsonOption } from "../common.js"
import { meteringOrgOption, meteringTokenOption, parseInstant, usd, withUsageClient } from "../metering.js"
import { emit, table, usageError } from "../output.js"
import { platform } from "../platform.js"

const groupLabel: Record<UsageGroupBy, string> = { model: "MODEL", agent: "AGENT", day: "DAY", provider: "PROVIDER" }

const sum = (rows: ReadonlyArray<UsageTotals>): Omit<UsageTotals, "key"> =>
  rows.reduce(
    (t, r) => ({
      requests: t.requests + r.requests,
      promptTokens: t.promptTokens + r.promptTokens,
      completionTokens: t.completionTokens + r.completionTokens,
      cachedTokens: t.cachedTokens + r.cachedTokens,
      costMicroUsd: t.costMicroUsd + r.costMicroUsd,
      estimatedRequests: t.estimatedRequests + r.estimatedRequests
    }),
    { requests: 0, promptTokens: 0, completionTokens: 0, cachedTokens: 0, costMicroUsd: 0, estimatedRequests: 0 }
  )

const totalsJson = (t: Omit<UsageTotals, "key">) => ({
  requests: t.requests,
  prompt_tokens: t.promptTokens,
  completion_tokens: t.completionTokens,
  cached_tokens: t.cachedTokens,
  cost_micro_usd: t.costMicroUsd,
  cost_usd: usd(t.costMicroUsd),
  estimated_requests: t.estimatedRequests
})

/** The report as `--json` prints it: integers as numbers, the cost also as exact USD text. */
export const reportJson = (report: UsageReport) => ({
  org_id: report.orgId,
  since: report.since.toISOString(),
  until: report.until.toISOString(),
  group_by: report.groupBy,
  rows: report.rows.map((r) => ({ key: r.key, ...totalsJson(r) })),
  total: totalsJson(sum(report.rows))
})

const cells = (key: string, t: Omit<UsageTotals, "key">) => [
  key,
  String(t.requests),
  String(t.promptTokens),
  String(t.completionTokens),
  String(t.cachedTokens),
  usd(t.costMicroUsd),
  String(t.estimatedRequests)
]

/** The report as a table, totals on the last line. */
export const reportLines = (report: UsageReport): Array<string> => {
  const header = `Usage of org ${report.orgId} from ${report.since.toISOString()} to ${report.until.toISOString()} (UTC, end excluded), by ${report.groupBy}`
  if (report.rows.length === 0) return [header, "", "No usage recorded in this range."]
  const lines = table(
    [groupLabel[report.groupBy], "REQUESTS", "PROMPT", "COMPLETION", "CACHED", "COST_USD", "ESTIMATED"],
    [...report.rows.map((r) => cells(r.key, r)), cells("TOTAL", sum(report.rows))]
  )
  // A rule above the totals line.
  const rule = "-".repeat(Math.max(...lines.map((l) => l.length)))
  return [header, "", ...lines.slice(0, -1), rule, lines[lines.length - 1] as string]
}

export const usageCommand = Command.make(
  "usage",
  {
    json: jsonOption,
    token: meteringTokenOption,
    org: meteringOrgOption,
    by: Options.choice("by", ["model", "agent", "day", "provider"]).pipe(
      Options.withDescription("Group the report by client model name, agent, UTC day or provider."),
      Options.withDefault("model" as const)
    ),
    since: Options.text("since").pipe(
      Options.withPseudoName("date"),
      Options.withDescription(
        "Start (included): a date (2025-03-01, UTC), an ISO time with offset, or a duration ago (7d, 12h). Default: the start of the current UTC month."
      ),
      Options.optional
    ),
    until: Options.text("until").pipe(
      Options.withPseudoName("date"),
      Options.withDescription("End (excluded), in the same forms as --since. Default: now."),
      Options.optional
    )
  },
  ({ json, token, org, by, since, until }) =>
    handled(
      json,
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const input = {
          since: Option.isSome(since) ? yield* parseInstant("--since", since.value, now) : null,
          until: Option.isSome(until) ? yield* parseInstant("--until", until.value, now) : null,
          groupBy: by
        }
        // The service refuses it too, but only as "invalid": say which flags disagree.
        const from = input.since?.getTime() ?? monthStartUtc(new Date(now)).getTime()
        if ((input.until?.getTime() ?? now) <= from)
          return yield* usageError(
            `--until (${input.until?.toISOString() ?? "now"}) must be after --since (${new Date(from).toISOString()})`
          )
        const report = Option.isSome(org)
          ? yield* Effect.scoped(Effect.flatMap(platform, (p) => p.queryUsage(org.value, input)))
          : yield* withUsageClient(token, "usage:read", (client, bearer) => client.query(bearer, input))
        yield* emit(json, reportJson(report), () => reportLines(report))
      })
    )
).pipe(
  Command.withDescription(
    "Usage report of your org (PAT with usage:read, over gRPC), or with --org of a named org (platform admin): requests, tokens and cost in USD per model, agent, UTC day or provider, totals last."
  )
)
