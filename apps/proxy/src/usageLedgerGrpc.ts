import { UsageClient } from "@ibex/auth-adapter-grpc"
import { UsageLedger } from "@ibex/domain"
import { Effect, Layer } from "effect"

/**
 * The usage ledger in auth's store, over gRPC (GetMonthSpend): what the usage limiter rebuilds an
 * org's month from when its counter has none.
 */
export const UsageLedgerGrpc: Layer.Layer<UsageLedger, never, UsageClient> = Layer.effect(
  UsageLedger,
  Effect.map(UsageClient, (client) => UsageLedger.of({ monthSpend: client.monthSpend }))
)
