import {
  nextMonthUtc,
  OrgLimits,
  OrgLimitsStore,
  RevocationEvent,
  StoreUnavailable,
  type UsageGroupBy,
  type UsageRecord,
  UsageStore,
  type UsageTotals
} from "@ibex/domain"
import { Effect, Layer, Option, PubSub } from "effect"
import { MemoryDatabase } from "./MemoryDatabase.js"

/**
 * Usage records and org limits in memory, under the same rules as the Postgres adapters: a record
 * belongs to its own org and is read only through it; (org, request id) is the idempotency key;
 * a batch is all or nothing (a record of a missing org fails it, as the foreign key does); the
 * UsageStore contract holds both adapters to that.
 */

export const usageKey = (orgId: string, requestId: string) => `${orgId}\u0000${requestId}`

const groupKey: Record<UsageGroupBy, (r: UsageRecord) => string> = {
  model: (r) => r.model,
  agent: (r) => r.agentId,
  day: (r) => r.createdAt.toISOString().slice(0, 10),
  provider: (r) => r.provider
}

const inRange = (r: UsageRecord, since: Date, until: Date) =>
  r.createdAt.getTime() >= since.getTime() && r.createdAt.getTime() < until.getTime()

const failIfDown = (db: { failing: boolean }, operation: string) =>
  db.failing ? Effect.fail(new StoreUnavailable({ operation })) : Effect.void

export const UsageStoreMemory = Layer.effect(
  UsageStore,
  Effect.gen(function* () {
    const db = yield* MemoryDatabase
    const ofOrg = (orgId: string) => [...db.usage.values()].filter((r) => r.orgId === orgId)
    return UsageStore.of({
      // Synchronous from check to write: concurrent batches cannot interleave inside one.
      record: (records) =>
        Effect.zipRight(
          failIfDown(db, "UsageStore.record"),
          Effect.suspend(() => {
            if (records.some((r) => !db.orgs.has(r.orgId)))
              return Effect.fail(new StoreUnavailable({ operation: "UsageStore.record" }))
            let inserted = 0
            for (const r of records) {
              const key = usageKey(r.orgId, r.requestId)
              if (db.usage.has(key)) continue
              db.usage.set(key, r)
              inserted++
            }
            return Effect.succeed({ inserted, duplicates: records.length - inserted })
          })
        ),
      totals: (orgId, query) =>
        Effect.zipRight(
          failIfDown(db, "UsageStore.totals"),
          Effect.sync(() => {
            const key = groupKey[query.groupBy]
            const groups = new Map<string, UsageTotals>()
            for (const r of ofOrg(orgId)) {
              if (!inRange(r, query.since, query.until)) continue
              const k = key(r)
              const sum = groups.get(k) ?? {
                key: k,
                requests: 0,
                promptTokens: 0,
                completionTokens: 0,
                cachedTokens: 0,
                costMicroUsd: 0,
                estimatedRequests: 0
              }
              groups.set(k, {
                key: k,
                requests: sum.requests + 1,
                promptTokens: sum.promptTokens + r.promptTokens,
                completionTokens: sum.completionTokens + r.completionTokens,
                cachedTokens: sum.cachedTokens + r.cachedTokens,
                costMicroUsd: sum.costMicroUsd + r.costMicroUsd,
                estimatedRequests: sum.estimatedRequests + (r.estimated ? 1 : 0)
              })
            }
            return [...groups.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
          })
        ),
      monthSpend: (orgId, monthStart) =>
        Effect.zipRight(
          failIfDown(db, "UsageStore.monthSpend"),
          Effect.sync(() =>
            ofOrg(orgId)
              .filter((r) => inRange(r, monthStart, nextMonthUtc(monthStart)))
              .reduce((sum, r) => sum + r.costMicroUsd, 0)
          )
        )
    })
  })
)

const noLimits = new OrgLimits({ tokensPerMinute: null, monthlyBudgetMicroUsd: null })

export const OrgLimitsStoreMemory = Layer.effect(
  OrgLimitsStore,
  Effect.gen(function* () {
    const db = yield* MemoryDatabase
    return OrgLimitsStore.of({
      get: (orgId) =>
        Effect.zipRight(
          failIfDown(db, "OrgLimitsStore.get"),
          Effect.sync(() => (db.orgs.has(orgId) ? Option.some(db.orgLimits.get(orgId) ?? noLimits) : Option.none()))
        ),
      set: (orgId, limits) =>
        Effect.zipRight(
          failIfDown(db, "OrgLimitsStore.set"),
          Effect.sync(() => {
            if (!db.orgs.has(orgId)) return Option.none<OrgLimits>()
            db.orgLimits.set(orgId, limits)
            return Option.some(limits)
          })
        ).pipe(
          Effect.tap((changed) =>
            Option.isSome(changed) ? PubSub.publish(db.revocations, RevocationEvent.OrgChanged({ orgId })) : Effect.void
          )
        )
    })
  })
)
