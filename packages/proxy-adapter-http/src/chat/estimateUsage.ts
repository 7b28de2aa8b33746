import type { Usage } from "@ibex/domain"
import { Effect } from "effect"
import type { ChatIntent } from "./chatRequest.js"

/**
 * Usage when the provider reported none (a stream cut before its usage chunk, a server that
 * does not send usage): counted with a real tokenizer (OpenAI's o200k) over the prompt's text
 * and what was delivered, and marked estimated. Other providers' tokenizers differ by some
 * percent; the record says it is an estimate.
 */
const textOf = (content: unknown): string => {
  if (typeof content === "string") return content
  if (!Array.isArray(content)) return ""
  let out = ""
  for (const part of content)
    if (typeof part === "object" && part !== null && typeof (part as { text?: unknown }).text === "string")
      out += (part as { text: string }).text
  return out
}

/** Chat formats add a few tokens per message for roles and separators (OpenAI's documented overhead). */
const PER_MESSAGE = 4

/**
 * The tokenizer is loaded on the first estimate, not at start: its tables hold about 20 MB of
 * heap that every major collection would otherwise mark, and most providers report usage, so
 * many proxies never need it.
 */
let tokenizer: Promise<typeof import("gpt-tokenizer")> | undefined
const loadTokenizer = Effect.promise(() => {
  tokenizer ??= import("gpt-tokenizer")
  return tokenizer
})

export const estimateUsage = (intent: ChatIntent, delivered: string): Effect.Effect<Usage> =>
  Effect.map(loadTokenizer, ({ countTokens }) => {
    let prompt = 0
    for (const m of intent.body.messages)
      prompt += countTokens(textOf((m as { content?: unknown }).content)) + PER_MESSAGE
    const completion = delivered === "" ? 0 : countTokens(delivered)
    return { promptTokens: prompt, completionTokens: completion, cachedTokens: 0, totalTokens: prompt + completion }
  })

const contentPattern = /"(?:content|arguments)":"((?:[^"\\]|\\.)*)"/g
const MAX_DELIVERED_CHARS = 1_000_000

/**
 * Appends a chunk's text (content and tool-call argument deltas) to what was delivered, bounded:
 * only needed if the stream ends without usage.
 */
export const appendDelivered = (delivered: string, chunkJson: string): string => {
  if (delivered.length >= MAX_DELIVERED_CHARS) return delivered
  let out = delivered
  for (const m of chunkJson.matchAll(contentPattern)) {
    try {
      out += JSON.parse(`"${m[1] ?? ""}"`) as string
    } catch {
      // a malformed escape: skip that piece
    }
  }
  return out
}

/** The text of a whole completion's choices (for a non-streamed answer without usage). */
export const completionText = (body: string): string => {
  try {
    const parsed = JSON.parse(body) as { choices?: Array<{ message?: { content?: unknown } }> }
    return (parsed.choices ?? []).map((c) => textOf(c.message?.content)).join("")
  } catch {
    return ""
  }
}
