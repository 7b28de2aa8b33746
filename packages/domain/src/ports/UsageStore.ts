import { Context, type Effect } from "effect"
import type { StoreUnavailable } from "../errors.js"
import type { OrgId } from "../ids.js"
import type { UsageGroupBy, UsageRecord, UsageTotals } from "../usage/UsageRecord.js"

/** What one `record` call did: every record of the batch is counted in exactly one of the two. */
export interface RecordedUsage {
  /** Records stored by this call. */
  readonly inserted: number
  /** Records whose (org, request id) was already stored (by an earlier call, a concurrent one, or earlier in this batch). */
  readonly duplicates: number
}

export interface UsageQuery {
  /** Inclusive lower bound on `createdAt`. */
  readonly since: Date
  /** Exclusive upper bound on `createdAt`. */
  readonly until: Date
  readonly groupBy: UsageGroupBy
}

/**
 * Usage records, one per forwarded request, under the same tenant rules as every other store:
 * each record is written in its own org's context and reads see only the org they are given.
 */
export interface UsageStoreShape {
  /**
   * Stores a batch, idempotent per (org, request id): a record already stored is counted as a
   * duplicate and left as it was (the first write wins), whoever sent it and however often, even
   * concurrently. Atomic: the whole batch is stored or none of it (StoreUnavailable, e.g. a record
   * of an org that does not exist). A batch may mix orgs; each record is written in its own org.
   */
  readonly record: (records: ReadonlyArray<UsageRecord>) => Effect.Effect<RecordedUsage, StoreUnavailable>
  /**
   * Sums of `orgId`'s records with `since <= createdAt < until`, one row per group, ordered by key.
   * Keys: the client model name, the agent id, the UTC day (`YYYY-MM-DD`) or the provider id.
   */
  readonly totals: (orgId: OrgId, query: UsageQuery) => Effect.Effect<ReadonlyArray<UsageTotals>, StoreUnavailable>
  /**
   * `orgId`'s spend in micro-USD over one month: `monthStart <= createdAt <` the same instant one
   * UTC calendar month later (`nextMonthUtc`). Pass `monthStartUtc(now)` for the current month.
   */
  readonly monthSpend: (orgId: OrgId, monthStart: Date) => Effect.Effect<number, StoreUnavailable>
}

export class UsageStore extends Context.Tag("@ibex/domain/UsageStore")<UsageStore, UsageStoreShape>() {}
