import type { Usage } from "@ibex/domain"
import { Option } from "effect"

/** Reads OpenAI's `usage` object (also what Azure and every OpenAI-compatible server send). */
export const usageFromOpenAi = (usage: unknown): Option.Option<Usage> => {
  if (typeof usage !== "object" || usage === null) return Option.none()
  const u = usage as Record<string, unknown>
  const prompt = typeof u.prompt_tokens === "number" ? u.prompt_tokens : 0
  const completion = typeof u.completion_tokens === "number" ? u.completion_tokens : 0
  const details = u.prompt_tokens_details as Record<string, unknown> | undefined | null
  const cached = typeof details?.cached_tokens === "number" ? details.cached_tokens : 0
  const total = typeof u.total_tokens === "number" ? u.total_tokens : prompt + completion
  return Option.some({ promptTokens: prompt, completionTokens: completion, cachedTokens: cached, totalTokens: total })
}

/** A provider error body's message, wherever the dialect keeps it. */
export const errorMessageOf = (text: string): string => {
  try {
    const json = JSON.parse(text) as Record<string, unknown>
    const error = json.error
    if (typeof error === "string") return error
    if (typeof error === "object" && error !== null && typeof (error as { message?: unknown }).message === "string")
      return (error as { message: string }).message
    if (typeof json.message === "string") return json.message
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.slice(0, 300)
}
