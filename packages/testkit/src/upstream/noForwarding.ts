import {
  emptyRoutingTable,
  ProviderGateway,
  RoutingStatic,
  UpstreamConnectFailed,
  UsageLimiterMemory
} from "@ibex/domain"
import { Effect, Layer } from "effect"
import { UsageSinkCollecting } from "./usageSink.js"

/**
 * A proxy with no providers configured (Phase 1's world: chat answers 501
 * PROVIDER_NOT_CONFIGURED): an empty routing table, a gateway that fails loudly if anything
 * calls it anyway, the in-memory usage limiter and a collecting usage sink.
 */
export const NoForwarding = Layer.mergeAll(
  UsageLimiterMemory.pipe(Layer.provideMerge(UsageSinkCollecting)),
  RoutingStatic(emptyRoutingTable, "none"),
  Layer.succeed(ProviderGateway, {
    call: (request) =>
      Effect.fail(
        new UpstreamConnectFailed({ providerId: request.target.providerId, detail: "no provider gateway in this test" })
      )
  })
)
