import type { AssistantMessage, ChatMessage, ToolMessage, UserMessage } from "@ibex/domain"
import { Either, Predicate } from "effect"
import { AnthropicTranslationError } from "./errors.js"
import { documentBlock, imageBlock } from "./media.js"
import type {
  AnthropicAssistantBlock,
  AnthropicMessage,
  AnthropicTextBlock,
  AnthropicToolResultBlock,
  AnthropicToolUseBlock,
  AnthropicUserBlock
} from "./wire.js"

/**
 * OpenAI's `messages` as Anthropic's `system` plus `messages`.
 *
 * - `system` and `developer` messages, wherever they stand, become the one top-level system
 *   prompt, in order, joined by a newline (what Anthropic's own OpenAI compatibility layer
 *   does, so a prompt reads the same through us as through it).
 * - `tool` messages become `tool_result` blocks in a user turn (Anthropic has no tool role).
 * - Consecutive turns of one role are merged into one, so turns alternate as Anthropic
 *   requires: an assistant's parallel tool results become one user turn, results first, then
 *   any user text that follows them, which is the order Anthropic asks for.
 * - Empty text is left out: Anthropic refuses empty text blocks, and OpenAI clients routinely
 *   send `content: ""` next to `tool_calls`. A turn left with nothing is left out as well.
 * - Message `name`s and an assistant's `refusal` field have no Anthropic counterpart and are
 *   dropped; refusal content parts are kept as the text they are.
 */

type Result<A> = Either.Either<A, AnthropicTranslationError>

const refuse = (field: string, message: string) => Either.left(new AnthropicTranslationError({ field, message }))

export interface TranslatedMessages {
  readonly system: string | undefined
  readonly messages: ReadonlyArray<AnthropicMessage>
}

const text = (value: string): ReadonlyArray<AnthropicTextBlock> => (value === "" ? [] : [{ type: "text", text: value }])

/** The text of a content that may only hold text parts (system, developer, tool). */
const textPieces = (content: string | ReadonlyArray<{ readonly text: string }>): ReadonlyArray<string> =>
  typeof content === "string" ? [content] : content.map((part) => part.text)

const textBlocks = (content: string | ReadonlyArray<{ readonly text: string }>): Array<AnthropicTextBlock> =>
  textPieces(content).flatMap(text)

/**
 * Anthropic tool-use ids must match `^[a-zA-Z0-9_-]+$`; OpenAI's (`call_...`) do, but a
 * conversation carried over from another provider may hold other characters. The same
 * replacement is applied to `tool_calls[].id` and to `tool_call_id`, so pairs still match.
 */
const toolUseId = (id: string): string => (/^[A-Za-z0-9_-]+$/.test(id) ? id : id.replace(/[^A-Za-z0-9_-]/g, "_"))

const userBlocks = (content: UserMessage["content"], field: string): Result<Array<AnthropicUserBlock>> => {
  if (typeof content === "string") return Either.right([...text(content)])
  const blocks: Array<AnthropicUserBlock> = []
  for (let j = 0; j < content.length; j++) {
    const part = content[j]!
    const partField = `${field}.${j}`
    switch (part.type) {
      case "text":
        blocks.push(...text(part.text))
        break
      case "image_url": {
        const image = imageBlock(part.image_url.url, `${partField}.image_url.url`)
        if (Either.isLeft(image)) return Either.left(image.left)
        blocks.push(image.right)
        break
      }
      case "file": {
        const document = documentBlock(part.file, partField)
        if (Either.isLeft(document)) return Either.left(document.left)
        blocks.push(document.right)
        break
      }
      case "input_audio":
        return refuse(partField, "is not supported: Anthropic models do not accept audio input")
    }
  }
  return Either.right(blocks)
}

/** OpenAI sends tool arguments as JSON text; Anthropic wants the object itself. */
const toolInput = (args: string, field: string): Result<Readonly<Record<string, unknown>>> => {
  // Some models emit "" for a call without arguments; it can only mean "no arguments".
  if (args.trim() === "") return Either.right({})
  let parsed: unknown
  try {
    parsed = JSON.parse(args)
  } catch {
    return refuse(field, "must be valid JSON: Anthropic models take tool arguments as a JSON object")
  }
  if (!Predicate.isRecord(parsed)) {
    return refuse(field, "must be a JSON object: Anthropic models take tool arguments as an object")
  }
  return Either.right(parsed)
}

const assistantBlocks = (message: AssistantMessage, field: string): Result<Array<AnthropicAssistantBlock>> => {
  if (message.function_call !== undefined && message.function_call !== null) {
    return refuse(`${field}.function_call`, "is not supported for Anthropic models: use tool_calls instead")
  }
  if (message.audio !== undefined && message.audio !== null) {
    return refuse(`${field}.audio`, "is not supported: Anthropic models cannot refer to an earlier audio answer")
  }
  const blocks: Array<AnthropicAssistantBlock> = []
  const content = message.content
  if (typeof content === "string") {
    blocks.push(...text(content))
  } else if (content !== undefined && content !== null) {
    for (const part of content) blocks.push(...text(part.type === "text" ? part.text : part.refusal))
  }
  const calls = message.tool_calls ?? []
  for (let k = 0; k < calls.length; k++) {
    const call = calls[k]!
    const input = toolInput(call.function.arguments, `${field}.tool_calls.${k}.function.arguments`)
    if (Either.isLeft(input)) return Either.left(input.left)
    const block: AnthropicToolUseBlock = {
      type: "tool_use",
      id: toolUseId(call.id),
      name: call.function.name,
      input: input.right
    }
    blocks.push(block)
  }
  return Either.right(blocks)
}

const toolResult = (message: ToolMessage): AnthropicToolResultBlock => {
  const id = toolUseId(message.tool_call_id)
  if (typeof message.content === "string") {
    return message.content === ""
      ? { type: "tool_result", tool_use_id: id }
      : { type: "tool_result", tool_use_id: id, content: message.content }
  }
  const blocks = textBlocks(message.content)
  return blocks.length === 0
    ? { type: "tool_result", tool_use_id: id }
    : { type: "tool_result", tool_use_id: id, content: blocks }
}

type Turn =
  | { readonly role: "user"; readonly content: Array<AnthropicUserBlock> }
  | { readonly role: "assistant"; readonly content: Array<AnthropicAssistantBlock> }

export const translateMessages = (messages: ReadonlyArray<ChatMessage>): Result<TranslatedMessages> => {
  const system: Array<string> = []
  const turns: Array<Turn> = []
  const addUser = (blocks: ReadonlyArray<AnthropicUserBlock>): void => {
    if (blocks.length === 0) return
    const last = turns[turns.length - 1]
    if (last?.role === "user") last.content.push(...blocks)
    else turns.push({ role: "user", content: [...blocks] })
  }
  const addAssistant = (blocks: ReadonlyArray<AnthropicAssistantBlock>): void => {
    if (blocks.length === 0) return
    const last = turns[turns.length - 1]
    if (last?.role === "assistant") last.content.push(...blocks)
    else turns.push({ role: "assistant", content: [...blocks] })
  }

  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!
    const field = `messages.${i}`
    switch (message.role) {
      case "system":
      case "developer":
        for (const piece of textPieces(message.content)) if (piece !== "") system.push(piece)
        break
      case "user": {
        const blocks = userBlocks(message.content, `${field}.content`)
        if (Either.isLeft(blocks)) return Either.left(blocks.left)
        addUser(blocks.right)
        break
      }
      case "assistant": {
        const blocks = assistantBlocks(message, field)
        if (Either.isLeft(blocks)) return Either.left(blocks.left)
        addAssistant(blocks.right)
        break
      }
      case "tool":
        addUser([toolResult(message)])
        break
      case "function":
        return refuse(`${field}.role`, 'is not supported for Anthropic models: send tool results with role "tool"')
    }
  }

  if (turns.length === 0) {
    return refuse("messages", "must include a user or assistant message with content for Anthropic models")
  }
  return Either.right({ system: system.length === 0 ? undefined : system.join("\n"), messages: turns })
}
