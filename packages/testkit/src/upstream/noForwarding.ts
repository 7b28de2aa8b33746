import { emptyRoutingTable, ProviderGateway, RoutingStatic, UpstreamConnectFailed } from "@ibex/domain"
import { Effect, Layer } from "effect"

/**
 * A proxy with no providers configured (Phase 1's world: chat answers 501
 * PROVIDER_NOT_CONFIGURED): an empty routing table, and a gateway that fails loudly if anything
 * calls it anyway.
 */
export const NoForwarding = Layer.merge(
  RoutingStatic(emptyRoutingTable, "none"),
  Layer.succeed(ProviderGateway, {
    call: (request) =>
      Effect.fail(
        new UpstreamConnectFailed({ providerId: request.target.providerId, detail: "no provider gateway in this test" })
      )
  })
)
