import { UsageLedger, type UsageLedgerShape, type UsageRecord, UsageSink } from "@ibex/domain"
import { Context, Effect, Layer } from "effect"

/** The records a collecting sink received, in order. */
export class UsageRecords extends Context.Tag("@ibex/testkit/UsageRecords")<UsageRecords, Array<UsageRecord>>() {}

/** A ledger over records held in memory: their cost per org and UTC month, as auth's store sums it. */
export const ledgerOf = (records: ReadonlyArray<UsageRecord>): UsageLedgerShape => ({
  monthSpend: (orgId, month) =>
    Effect.sync(() =>
      records
        .filter((r) => r.orgId === orgId && r.createdAt.toISOString().slice(0, 7) === month)
        .reduce((sum, r) => sum + r.costMicroUsd, 0)
    )
})

/**
 * A UsageSink that keeps every record in memory, for tests to read back (`UsageRecords`), and
 * the UsageLedger over them (records reach it at once: no shipping delay).
 */
export const UsageSinkCollecting: Layer.Layer<UsageSink | UsageLedger | UsageRecords> = Layer.effectContext(
  Effect.sync(() => {
    const records: Array<UsageRecord> = []
    return Context.make(UsageRecords, records).pipe(
      Context.add(UsageSink, { offer: (r) => records.push(r) }),
      Context.add(UsageLedger, ledgerOf(records))
    )
  })
)

/** A ledger with no records: every month starts at 0 (tests that meter nothing against it). */
export const UsageLedgerEmpty: Layer.Layer<UsageLedger> = Layer.succeed(UsageLedger, {
  monthSpend: () => Effect.succeed(0)
})
