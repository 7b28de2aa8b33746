import { UsageClient } from "@ibex/auth-adapter-grpc"
import { makeUsageShipper, type UsageRecord, UsageSink } from "@ibex/domain"
import { Effect, Layer } from "effect"

export interface UsageShippingOptions {
  /** Records held while auth is unreachable; past it new records are dropped, counted and logged. */
  readonly maxBuffered: number
}

/**
 * Usage records to auth's store over gRPC (RecordUsage), in batches from a bounded buffer:
 * an auth restart or a minute of unreachability loses nothing while the buffer holds, and a
 * record sent twice is stored once (its id is the key). A batch auth refuses as malformed is
 * logged and dropped: sending it again would get the same answer and hold up the rest.
 */
export const UsageSinkGrpc = (options: UsageShippingOptions): Layer.Layer<UsageSink, never, UsageClient> =>
  Layer.scoped(
    UsageSink,
    Effect.gen(function* () {
      const client = yield* UsageClient
      const send = (batch: ReadonlyArray<UsageRecord>) =>
        client.record(batch).pipe(
          Effect.catchTag("ValidationFailed", (e) =>
            Effect.logError({
              message: "usage batch refused by auth: dropped",
              records: batch.length,
              field_errors: e.fieldErrors.map((f) => f.field)
            })
          )
        )
      const shipper = yield* makeUsageShipper({
        send,
        maxBuffered: options.maxBuffered,
        batchSize: 500,
        flushIntervalMs: 200,
        retryBaseMs: 100,
        retryMaxMs: 5_000,
        closeDeadlineMs: 5_000
      })
      return { offer: shipper.offer }
    })
  )
