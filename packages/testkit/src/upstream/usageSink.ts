import { type UsageRecord, UsageSink } from "@ibex/domain"
import { Context, Effect, Layer } from "effect"

/** The records a collecting sink received, in order. */
export class UsageRecords extends Context.Tag("@ibex/testkit/UsageRecords")<UsageRecords, Array<UsageRecord>>() {}

/** A UsageSink that keeps every record in memory, for tests to read back (`UsageRecords`). */
export const UsageSinkCollecting: Layer.Layer<UsageSink | UsageRecords> = Layer.effectContext(
  Effect.sync(() => {
    const records: Array<UsageRecord> = []
    return Context.make(UsageRecords, records).pipe(Context.add(UsageSink, { offer: (r) => records.push(r) }))
  })
)
