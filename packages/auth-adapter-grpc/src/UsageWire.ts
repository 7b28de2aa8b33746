import type { OrgLimitsView, UsageReport } from "@ibex/auth-core"
import {
  type UsageGroupBy as DomainGroupBy,
  FieldError,
  type OrgId,
  OrgLimits,
  UsageRecord,
  type UsageTotals
} from "@ibex/domain"
import { Either } from "effect"
import {
  type OrgLimitsInfo,
  type QueryUsageResponse,
  UsageGroupBy,
  type UsageRecordMessage,
  type UsageTotalsRow
} from "./gen/ibex/auth/v1/usage.js"

/** Domain usage records, reports and limits ↔ the UsageService's messages, both directions (server and client). */

const groupByToWireTable: Record<DomainGroupBy, UsageGroupBy> = {
  model: UsageGroupBy.USAGE_GROUP_BY_MODEL,
  agent: UsageGroupBy.USAGE_GROUP_BY_AGENT,
  day: UsageGroupBy.USAGE_GROUP_BY_DAY,
  provider: UsageGroupBy.USAGE_GROUP_BY_PROVIDER
}

export const groupByToWire = (groupBy: DomainGroupBy): UsageGroupBy => groupByToWireTable[groupBy]

/** UNSPECIFIED means by model (the proto's default); an unknown value is undefined. */
export const groupByFromWire = (groupBy: UsageGroupBy): DomainGroupBy | undefined =>
  groupBy === UsageGroupBy.USAGE_GROUP_BY_UNSPECIFIED
    ? "model"
    : (Object.entries(groupByToWireTable) as Array<[DomainGroupBy, UsageGroupBy]>).find(([, w]) => w === groupBy)?.[0]

/** A uint64 that must stay an exact JavaScript number. */
export const safeNumber = (value: bigint): number | undefined =>
  value >= 0n && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : undefined

export const usageRecordToWire = (r: UsageRecord): UsageRecordMessage => ({
  requestId: r.requestId,
  orgId: r.orgId,
  agentId: r.agentId,
  tokenId: r.tokenId,
  model: r.model,
  provider: r.provider,
  upstreamModel: r.upstreamModel,
  promptTokens: r.promptTokens,
  completionTokens: r.completionTokens,
  cachedTokens: r.cachedTokens,
  estimated: r.estimated,
  costMicroUsd: BigInt(r.costMicroUsd),
  status: r.status,
  latencyMs: r.latencyMs,
  ...(r.timeToFirstTokenMs === null ? {} : { timeToFirstTokenMs: r.timeToFirstTokenMs }),
  stream: r.stream,
  createdAt: r.createdAt
})

/**
 * One wire record as a domain record, or what is wrong with it that the proto's types cannot say
 * (field names are the wire's, prefixed with `prefix`). The rest of the record's rules (lengths,
 * canonical UUIDs, integer ranges, a valid timestamp) are auth-core's `usageRecordProblems`, which
 * `recordUsage` applies to every record before anything is stored, so the record is built here
 * without checking them twice (the schema's pass was ~7 µs of the ~32 µs auth spent per record).
 */
export const usageRecordFromWire = (
  m: UsageRecordMessage,
  prefix: string
): Either.Either<UsageRecord, ReadonlyArray<FieldError>> => {
  const cost = safeNumber(m.costMicroUsd)
  const problems: Array<FieldError> = []
  const at = (name: string, message: string) => new FieldError({ field: `${prefix}${name}`, message })
  if (cost === undefined) problems.push(at("cost_micro_usd", `must be at most ${Number.MAX_SAFE_INTEGER}`))
  if (m.createdAt === undefined) problems.push(at("created_at", "is required"))
  if (cost === undefined || m.createdAt === undefined) return Either.left(problems)
  return Either.right(
    new UsageRecord(
      {
        requestId: m.requestId,
        orgId: m.orgId,
        agentId: m.agentId,
        tokenId: m.tokenId,
        model: m.model,
        provider: m.provider,
        upstreamModel: m.upstreamModel,
        promptTokens: m.promptTokens,
        completionTokens: m.completionTokens,
        cachedTokens: m.cachedTokens,
        estimated: m.estimated,
        costMicroUsd: cost,
        status: m.status,
        latencyMs: m.latencyMs,
        timeToFirstTokenMs: m.timeToFirstTokenMs ?? null,
        stream: m.stream,
        createdAt: m.createdAt
      },
      { disableValidation: true }
    )
  )
}

export const totalsToWire = (t: UsageTotals): UsageTotalsRow => ({
  key: t.key,
  requests: BigInt(t.requests),
  promptTokens: BigInt(t.promptTokens),
  completionTokens: BigInt(t.completionTokens),
  cachedTokens: BigInt(t.cachedTokens),
  costMicroUsd: BigInt(t.costMicroUsd),
  estimatedRequests: BigInt(t.estimatedRequests)
})

export const totalsFromWire = (row: UsageTotalsRow): UsageTotals => ({
  key: row.key,
  requests: Number(row.requests),
  promptTokens: Number(row.promptTokens),
  completionTokens: Number(row.completionTokens),
  cachedTokens: Number(row.cachedTokens),
  costMicroUsd: Number(row.costMicroUsd),
  estimatedRequests: Number(row.estimatedRequests)
})

export const reportToWire = (report: UsageReport): QueryUsageResponse => ({
  orgId: report.orgId,
  since: report.since,
  until: report.until,
  groupBy: groupByToWire(report.groupBy),
  rows: report.rows.map(totalsToWire)
})

export const reportFromWire = (r: QueryUsageResponse): UsageReport => ({
  orgId: r.orgId as OrgId,
  since: r.since ?? new Date(0),
  until: r.until ?? new Date(0),
  groupBy: groupByFromWire(r.groupBy) ?? "model",
  rows: r.rows.map(totalsFromWire)
})

export const limitsToWire = (view: OrgLimitsView): OrgLimitsInfo => ({
  orgId: view.orgId,
  ...(view.limits.tokensPerMinute === null ? {} : { tokensPerMinute: view.limits.tokensPerMinute }),
  ...(view.limits.monthlyBudgetMicroUsd === null
    ? {}
    : { monthlyBudgetMicroUsd: BigInt(view.limits.monthlyBudgetMicroUsd) }),
  monthSpendMicroUsd: BigInt(view.monthSpendMicroUsd),
  monthStart: view.monthStart
})

export const limitsFromWire = (info: OrgLimitsInfo): OrgLimitsView => ({
  orgId: info.orgId as OrgId,
  limits: new OrgLimits({
    tokensPerMinute: info.tokensPerMinute ?? null,
    monthlyBudgetMicroUsd: info.monthlyBudgetMicroUsd === undefined ? null : Number(info.monthlyBudgetMicroUsd)
  }),
  monthStart: info.monthStart ?? new Date(0),
  monthSpendMicroUsd: Number(info.monthSpendMicroUsd)
})
