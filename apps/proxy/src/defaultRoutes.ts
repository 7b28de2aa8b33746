import type { RoutingConfigWire } from "@ibex/domain"
import { Option } from "effect"

/** The name of the local mock model the embedded default serves when no provider key is set. */
export const MOCK_MODEL = "ibex-mock"

/**
 * The routing config used when neither IBEX_ROUTES_FILE nor a NATS KV source is set: OpenAI
 * when OPENAI_API_KEY is set, Anthropic when ANTHROPIC_API_KEY is set, and otherwise (only then)
 * the local mock upstream, if this process runs one (`npm start` does). Written as a routing
 * file would be, so it goes through the same checks.
 */
export interface EmbeddedProviders {
  /** Set when OPENAI_API_KEY is: the base URL (OPENAI_BASE_URL, default api.openai.com). */
  readonly openai: Option.Option<string>
  /** Set when ANTHROPIC_API_KEY is: the base URL (ANTHROPIC_BASE_URL, default api.anthropic.com). */
  readonly anthropic: Option.Option<string>
}

export const defaultRoutingConfig = (
  embedded: EmbeddedProviders,
  mockUpstreamUrl: string | undefined
): RoutingConfigWire | undefined => {
  const providers: Array<RoutingConfigWire["providers"][number]> = []
  const models: Array<RoutingConfigWire["models"][number]> = []
  if (Option.isSome(embedded.openai)) {
    providers.push({
      id: "openai",
      kind: "openai",
      base_url: embedded.openai.value,
      api_key_env: "OPENAI_API_KEY"
    })
    for (const name of ["gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1", "gpt-5-mini", "gpt-5"])
      models.push({ name, targets: [{ provider: "openai", model: name }] })
  }
  if (Option.isSome(embedded.anthropic)) {
    providers.push({
      id: "anthropic",
      kind: "anthropic",
      base_url: embedded.anthropic.value,
      api_key_env: "ANTHROPIC_API_KEY",
      api_version: "2023-06-01"
    })
    for (const name of ["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"])
      models.push({ name, targets: [{ provider: "anthropic", model: name }] })
  }
  if (providers.length === 0 && mockUpstreamUrl !== undefined) {
    providers.push({ id: "mock", kind: "openai", base_url: `${mockUpstreamUrl}/v1` })
    // Priced like a small hosted model, so usage, costs and budgets can be tried out on it.
    models.push({
      name: MOCK_MODEL,
      targets: [{ provider: "mock", model: MOCK_MODEL }],
      pricing: { input_per_million: 0.15, output_per_million: 0.6, cached_input_per_million: 0.075 }
    })
  }
  return providers.length === 0 ? undefined : { providers, models }
}
