import {
  nextMonthUtc,
  OrgLimits,
  OrgLimitsStore,
  RevocationEvent,
  type UsageGroupBy,
  type UsageRecord,
  UsageStore,
  type UsageTotals
} from "@ibex/domain"
import { Effect, Layer, Option, PubSub } from "effect"
import { storeOperation } from "./errors.js"
import { captureDatabase, PgAppRole, withOrg } from "./PgClientLive.js"
import { RevocationHub } from "./RevocationHub.js"

/**
 * The group key of each report: fixed SQL chosen from this table, never built from input. Rows
 * are ordered by key in byte order (COLLATE "C"), whatever the database's collation.
 */
const GROUP_KEYS: Record<UsageGroupBy, string> = {
  model: "model",
  agent: "agent_id::text",
  day: "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
  provider: "provider"
}

/** Sums come back as numeric / bigint text from node-postgres. */
interface TotalsRow {
  readonly key: string
  readonly requests: string
  readonly prompt_tokens: string
  readonly completion_tokens: string
  readonly cached_tokens: string
  readonly cost_micro_usd: string
  readonly estimated_requests: string
}

interface LimitsRow {
  readonly tokens_per_minute: number | null
  /** bigint: text from node-postgres. */
  readonly monthly_budget_micro_usd: string | null
}

/**
 * One org's records as one array per column, for `INSERT … SELECT FROM unnest(…)`: 17 parameters
 * whatever the batch's size. A VALUES list bound 17 per record (8,500 for a full batch), which
 * Postgres parsed and planned afresh each time: 17–20 µs of its CPU per record against 10–13, and
 * the statement's text rebuilt in auth for every batch (measured with 500-record batches).
 */
const columnsOf = (rows: ReadonlyArray<UsageRecord>) => ({
  orgId: rows.map((r) => r.orgId),
  requestId: rows.map((r) => r.requestId),
  agentId: rows.map((r) => r.agentId),
  tokenId: rows.map((r) => r.tokenId),
  model: rows.map((r) => r.model),
  provider: rows.map((r) => r.provider),
  upstreamModel: rows.map((r) => r.upstreamModel),
  promptTokens: rows.map((r) => r.promptTokens),
  completionTokens: rows.map((r) => r.completionTokens),
  cachedTokens: rows.map((r) => r.cachedTokens),
  estimated: rows.map((r) => r.estimated),
  costMicroUsd: rows.map((r) => r.costMicroUsd),
  status: rows.map((r) => r.status),
  latencyMs: rows.map((r) => r.latencyMs),
  ttftMs: rows.map((r) => r.timeToFirstTokenMs),
  stream: rows.map((r) => r.stream),
  createdAt: rows.map((r) => r.createdAt.toISOString())
})

/**
 * The batch by org, orgs and request ids in a fixed order: concurrent batches that share records
 * take their row locks in the same order, so they wait for each other instead of deadlocking.
 */
const byOrg = (records: ReadonlyArray<UsageRecord>): Array<[string, Array<UsageRecord>]> => {
  const groups = new Map<string, Array<UsageRecord>>()
  for (const r of records) {
    const group = groups.get(r.orgId)
    if (group === undefined) groups.set(r.orgId, [r])
    else group.push(r)
  }
  const order = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
  return [...groups.entries()]
    .sort(([a], [b]) => order(a, b))
    .map(([orgId, rows]) => [orgId, rows.sort((a, b) => order(a.requestId, b.requestId))])
}

const limitsFromRow = (row: LimitsRow): OrgLimits =>
  new OrgLimits({
    tokensPerMinute: row.tokens_per_minute,
    monthlyBudgetMicroUsd: row.monthly_budget_micro_usd === null ? null : Number(row.monthly_budget_micro_usd)
  })

/**
 * UsageStore on Postgres. A batch is one transaction; each org's records are inserted after
 * `set_config('app.current_org_id', <that org>, true)`, so row-level security checks every row
 * against its own org (a batch never writes under another org's context). Idempotency is the
 * primary key (org_id, request_id) with ON CONFLICT DO NOTHING: a concurrent insert of the same
 * key waits for the other transaction and then counts as a duplicate. Reports and the month's
 * spend read in the org's context through the (org_id, created_at) index.
 */
export const UsageStoreLive = Layer.effect(
  UsageStore,
  Effect.gen(function* () {
    const { sql, provide } = yield* captureDatabase
    const { role } = yield* PgAppRole

    return UsageStore.of({
      record: (records) => {
        if (records.length === 0) return Effect.succeed({ inserted: 0, duplicates: 0 })
        return sql
          .withTransaction(
            Effect.gen(function* () {
              if (role !== null) yield* sql`SELECT set_config('role', ${role}, true)`
              let inserted = 0
              for (const [orgId, rows] of byOrg(records)) {
                yield* sql`SELECT set_config('app.current_org_id', ${orgId}, true)`
                const c = columnsOf(rows)
                const stored = yield* sql<{ request_id: string }>`
                  INSERT INTO ibex_core.usage_records (org_id, request_id, agent_id, token_id, model, provider,
                    upstream_model, prompt_tokens, completion_tokens, cached_tokens, estimated, cost_micro_usd,
                    status, latency_ms, ttft_ms, stream, created_at)
                  SELECT * FROM unnest(${c.orgId}::uuid[], ${c.requestId}::text[], ${c.agentId}::uuid[],
                    ${c.tokenId}::uuid[], ${c.model}::text[], ${c.provider}::text[], ${c.upstreamModel}::text[],
                    ${c.promptTokens}::integer[], ${c.completionTokens}::integer[], ${c.cachedTokens}::integer[],
                    ${c.estimated}::boolean[], ${c.costMicroUsd}::bigint[], ${c.status}::integer[],
                    ${c.latencyMs}::integer[], ${c.ttftMs}::integer[], ${c.stream}::boolean[],
                    ${c.createdAt}::timestamptz[])
                  ON CONFLICT (org_id, request_id) DO NOTHING
                  RETURNING request_id`
                inserted += stored.length
              }
              return { inserted, duplicates: records.length - inserted }
            })
          )
          .pipe(provide, storeOperation("UsageStore.record"))
      },

      totals: (orgId, query) =>
        withOrg(
          orgId,
          sql<TotalsRow>`
            SELECT ${sql.literal(GROUP_KEYS[query.groupBy])} AS key,
                   count(*)::text AS requests,
                   sum(prompt_tokens)::text AS prompt_tokens,
                   sum(completion_tokens)::text AS completion_tokens,
                   sum(cached_tokens)::text AS cached_tokens,
                   sum(cost_micro_usd)::text AS cost_micro_usd,
                   count(*) FILTER (WHERE estimated)::text AS estimated_requests
            FROM ibex_core.usage_records
            WHERE org_id = ${orgId} AND created_at >= ${query.since} AND created_at < ${query.until}
            GROUP BY 1
            ORDER BY ${sql.literal(GROUP_KEYS[query.groupBy])} COLLATE "C"`
        ).pipe(
          Effect.map((rows) =>
            rows.map(
              (r): UsageTotals => ({
                key: r.key,
                requests: Number(r.requests),
                promptTokens: Number(r.prompt_tokens),
                completionTokens: Number(r.completion_tokens),
                cachedTokens: Number(r.cached_tokens),
                costMicroUsd: Number(r.cost_micro_usd),
                estimatedRequests: Number(r.estimated_requests)
              })
            )
          ),
          provide,
          storeOperation("UsageStore.totals")
        ),

      monthSpend: (orgId, monthStart) =>
        withOrg(
          orgId,
          sql<{ spend: string }>`
            SELECT COALESCE(sum(cost_micro_usd), 0)::text AS spend
            FROM ibex_core.usage_records
            WHERE org_id = ${orgId} AND created_at >= ${monthStart} AND created_at < ${nextMonthUtc(monthStart)}`
        ).pipe(
          Effect.map((rows) => Number(rows[0]?.spend ?? "0")),
          provide,
          storeOperation("UsageStore.monthSpend")
        )
    })
  })
)

/**
 * OrgLimitsStore on Postgres: the two limit columns of the org's own row, read and written in its
 * context (the organizations policy compares `id`). A change fires 0020's trigger
 * (NOTIFY ibex_org_changed) and is published on this process's hub after commit (PGlite delivers
 * no NOTIFY across connections).
 */
export const OrgLimitsStoreLive = Layer.effect(
  OrgLimitsStore,
  Effect.gen(function* () {
    const { sql, provide } = yield* captureDatabase
    const hub = yield* RevocationHub
    return OrgLimitsStore.of({
      get: (orgId) =>
        withOrg(
          orgId,
          sql<LimitsRow>`
            SELECT tokens_per_minute, monthly_budget_micro_usd FROM ibex_core.organizations WHERE id = ${orgId}`
        ).pipe(
          Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), limitsFromRow)),
          provide,
          storeOperation("OrgLimitsStore.get")
        ),
      set: (orgId, limits) =>
        withOrg(
          orgId,
          sql<LimitsRow>`
            UPDATE ibex_core.organizations
            SET tokens_per_minute = ${limits.tokensPerMinute}::integer,
                monthly_budget_micro_usd = ${limits.monthlyBudgetMicroUsd}::bigint
            WHERE id = ${orgId}
            RETURNING tokens_per_minute, monthly_budget_micro_usd`
        ).pipe(
          Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), limitsFromRow)),
          provide,
          storeOperation("OrgLimitsStore.set"),
          Effect.tap((changed) =>
            Option.isSome(changed) ? PubSub.publish(hub, RevocationEvent.OrgChanged({ orgId })) : Effect.void
          )
        )
    })
  })
)
