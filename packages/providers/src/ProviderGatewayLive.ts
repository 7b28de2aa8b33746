import { type ProviderAdapter, ProviderGateway, type ProviderKind, withSpanWhenTraced } from "@ibex/domain"
import { Effect, Layer } from "effect"
import { anthropicAdapter } from "./anthropicAdapter.js"
import { azureOpenAiAdapter } from "./azure.js"
import { makeUpstreamHttp, type UpstreamHttp } from "./http/UpstreamHttp.js"
import { openAiAdapter } from "./openai.js"

/** Every provider kind's adapter; adding a kind is one module and one line here. */
const adapters = (http: UpstreamHttp): Record<ProviderKind, ProviderAdapter> => ({
  openai: openAiAdapter(http),
  "azure-openai": azureOpenAiAdapter(http),
  anthropic: anthropicAdapter(http)
})

/** The provider port over real HTTP: keep-alive pools that close with the layer's scope. */
export const ProviderGatewayLive: Layer.Layer<ProviderGateway> = Layer.scoped(
  ProviderGateway,
  Effect.gen(function* () {
    const http = yield* Effect.acquireRelease(Effect.sync(makeUpstreamHttp), (h) => h.close)
    const byKind = adapters(http)
    return {
      callNow: (request, done) => {
        const callNow = byKind[request.target.kind].callNow
        if (callNow === undefined) return false
        callNow(request, done)
        return true
      },
      call: (request) =>
        byKind[request.target.kind].call(request).pipe(
          withSpanWhenTraced("ProviderGateway.call", {
            kind: "client",
            captureStackTrace: false,
            attributes: {
              "gen_ai.system": request.target.kind,
              "gen_ai.request.model": request.target.model,
              "ibex.provider.id": request.target.providerId
            }
          })
        )
    }
  })
)
