import type { ProviderAdapter, UpstreamRequest } from "@ibex/domain"
import { Option, Redacted } from "effect"
import type { UpstreamHttp } from "./http/UpstreamHttp.js"
import { callOpenAiWire, callOpenAiWireNow, type OpenAiEndpoint } from "./openaiDialect.js"

/** OpenAI and every OpenAI-compatible server: `<base_url>/chat/completions`, bearer key (optional: Ollama needs none). */
const endpointOf = (request: UpstreamRequest): OpenAiEndpoint => ({
  url: `${request.target.baseUrl}/chat/completions`,
  authHeaders: Option.match(request.target.apiKey, {
    onNone: () => ({}),
    onSome: (key) => ({ authorization: `Bearer ${Redacted.value(key)}` })
  }),
  sendModel: true,
  requestIdHeaders: ["x-request-id"]
})

export const openAiAdapter = (http: UpstreamHttp): ProviderAdapter => ({
  kind: "openai",
  call: (request) => callOpenAiWire(http, request, endpointOf(request)),
  callNow: (request, done) => callOpenAiWireNow(http, request, endpointOf(request), done)
})
