/**
 * What the mock "generates", independent of wire format. Every dialect reduces its request to a
 * Prompt and renders the Plan built here, so the same conversation gets the same text and the
 * same token counts whichever provider shape it arrived in; tests can then check exact sums.
 *
 * Token counting (deterministic, documented in index.ts):
 *  - prompt tokens = ceil(characters of all message text, system text included, / 4);
 *  - completion tokens = whitespace-separated words of the generated text (for a tool call:
 *    of its arguments JSON string). Words, not characters, so a max_tokens cut is exact.
 */

export interface Prompt {
  /** Text of the last user message (text parts joined with "\n"). */
  readonly lastUserText: string
  /** When the conversation ends with a tool result (OpenAI `tool` message, Anthropic `tool_result` block), its text. */
  readonly toolResult: string | undefined
  /** True when the last message is the user's (and not a tool result): the only time a tool call is made. */
  readonly endsWithUser: boolean
  readonly promptChars: number
  /** The tool to call, when tools were offered and tool choice allows one. */
  readonly tool: string | undefined
  readonly maxTokens: number | undefined
}

export type Plan =
  | {
      readonly kind: "text"
      readonly text: string
      /** Cut short by max_tokens. */
      readonly truncated: boolean
      readonly promptTokens: number
      readonly completionTokens: number
    }
  | {
      readonly kind: "tool"
      readonly name: string
      readonly input: { readonly echo: string }
      /** The input as the JSON string OpenAI sends and Anthropic streams. */
      readonly arguments: string
      readonly promptTokens: number
      readonly completionTokens: number
    }

const replyLimit = 200

/** Code points, not UTF-16 units, so a cut never splits a surrogate pair. */
export const truncate = (text: string, limit = replyLimit): string => {
  if (text.length <= limit) return text
  return Array.from(text).slice(0, limit).join("")
}

const wordRe = /\S+\s*/g
export const words = (text: string): string[] => text.match(wordRe) ?? []

export const promptTokens = (chars: number): number => Math.ceil(chars / 4)

export const plan = (prompt: Prompt): Plan => {
  const inputTokens = promptTokens(prompt.promptChars)
  if (prompt.tool !== undefined && prompt.endsWithUser) {
    const input = { echo: truncate(prompt.lastUserText) }
    const args = JSON.stringify(input)
    return {
      kind: "tool",
      name: prompt.tool,
      input,
      arguments: args,
      promptTokens: inputTokens,
      completionTokens: words(args).length
    }
  }
  const full =
    prompt.toolResult !== undefined
      ? `Mock reply to tool result: ${truncate(prompt.toolResult)}`
      : `Mock reply to: ${truncate(prompt.lastUserText)}`
  const all = words(full)
  const limit = prompt.maxTokens
  const truncated = limit !== undefined && limit >= 0 && all.length > limit
  const kept = truncated ? all.slice(0, limit) : all
  // A cut keeps the kept words' text exactly, minus the whitespace that trailed the last one.
  const text = truncated ? kept.join("").trimEnd() : full
  return { kind: "text", text, truncated, promptTokens: inputTokens, completionTokens: kept.length }
}

/** Pieces of a few words each, whose concatenation is exactly the text. */
export const textPieces = (text: string, wordsPerPiece = 3): string[] => {
  const all = words(text)
  const pieces: string[] = []
  for (let i = 0; i < all.length; i += wordsPerPiece) pieces.push(all.slice(i, i + wordsPerPiece).join(""))
  return pieces
}

/** A tool call's arguments in several slices, as providers stream partial JSON. */
export const jsonPieces = (json: string, size = 12): string[] => {
  const points = Array.from(json)
  const pieces: string[] = []
  for (let i = 0; i < points.length; i += size) pieces.push(points.slice(i, i + size).join(""))
  return pieces
}

/** Text of a string or of an array of content parts / blocks (only `type: "text"` parts count). */
export const textOf = (content: unknown): string => {
  if (typeof content === "string") return content
  if (!Array.isArray(content)) return ""
  const texts: string[] = []
  for (const part of content) {
    if (isRecord(part) && part.type === "text" && typeof part.text === "string") texts.push(part.text)
  }
  return texts.join("\n")
}

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)
