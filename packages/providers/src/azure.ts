import type { ProviderAdapter, UpstreamRequest } from "@ibex/domain"
import { Option, Redacted } from "effect"
import type { UpstreamHttp } from "./http/UpstreamHttp.js"
import { callOpenAiWire, callOpenAiWireNow, type OpenAiEndpoint } from "./openaiDialect.js"

const endpointOf = (request: UpstreamRequest): OpenAiEndpoint => {
  const version = Option.getOrElse(request.target.apiVersion, () => "2024-10-21")
  return {
    url: `${request.target.baseUrl}/openai/deployments/${encodeURIComponent(request.target.model)}/chat/completions?api-version=${encodeURIComponent(version)}`,
    authHeaders: Option.match(request.target.apiKey, {
      onNone: () => ({}),
      onSome: (key) => ({ "api-key": Redacted.value(key) })
    }),
    sendModel: false,
    requestIdHeaders: ["apim-request-id", "x-request-id", "x-ms-request-id"]
  }
}

/**
 * Azure OpenAI: the target's model is the deployment name, in the URL; the key goes in
 * `api-key`; `api-version` is required (the routing config refuses an azure provider without it).
 */
export const azureOpenAiAdapter = (http: UpstreamHttp): ProviderAdapter => ({
  kind: "azure-openai",
  call: (request) => callOpenAiWire(http, request, endpointOf(request)),
  callNow: (request, done) => callOpenAiWireNow(http, request, endpointOf(request), done)
})
