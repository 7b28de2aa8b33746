import type { Usage } from "@ibex/domain"
import { Predicate } from "effect"

/**
 * Anthropic's token counts in OpenAI's terms. Anthropic counts cache reads and cache writes
 * apart from `input_tokens` (which holds only the uncached rest); OpenAI's `prompt_tokens` is
 * every prompt token, cached or not, with the cache hits repeated in
 * `prompt_tokens_details.cached_tokens`. So prompt = input + cache read + cache creation.
 */

/** The counts as Anthropic reports them; a missing or null count is 0. */
export interface AnthropicCounts {
  readonly input: number
  readonly output: number
  readonly cacheRead: number
  readonly cacheCreation: number
}

const count = (value: unknown): number => (typeof value === "number" && Number.isFinite(value) ? value : 0)

export const zeroCounts: AnthropicCounts = { input: 0, output: 0, cacheRead: 0, cacheCreation: 0 }

/** Reads a `usage` object; fields it lacks keep their value from `base` (a stream's later usage updates an earlier one). */
export const readCounts = (usage: unknown, base: AnthropicCounts = zeroCounts): AnthropicCounts => {
  if (!Predicate.isRecord(usage)) return base
  const pick = (key: string, fallback: number) =>
    usage[key] === undefined || usage[key] === null ? fallback : count(usage[key])
  return {
    input: pick("input_tokens", base.input),
    output: pick("output_tokens", base.output),
    cacheRead: pick("cache_read_input_tokens", base.cacheRead),
    cacheCreation: pick("cache_creation_input_tokens", base.cacheCreation)
  }
}

export const toUsage = (counts: AnthropicCounts): Usage => {
  const promptTokens = counts.input + counts.cacheRead + counts.cacheCreation
  return {
    promptTokens,
    completionTokens: counts.output,
    cachedTokens: counts.cacheRead,
    totalTokens: promptTokens + counts.output
  }
}

/** OpenAI's `usage` object, as in a `chat.completion` or a stream's last chunk. */
export interface OpenAiUsage {
  readonly prompt_tokens: number
  readonly completion_tokens: number
  readonly total_tokens: number
  readonly prompt_tokens_details: { readonly cached_tokens: number }
}

export const toOpenAiUsage = (usage: Usage): OpenAiUsage => ({
  prompt_tokens: usage.promptTokens,
  completion_tokens: usage.completionTokens,
  total_tokens: usage.totalTokens,
  prompt_tokens_details: { cached_tokens: usage.cachedTokens }
})
