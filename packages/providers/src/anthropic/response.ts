import type { Usage } from "@ibex/domain"
import { Either, Predicate } from "effect"
import { AnthropicProtocolError } from "./errors.js"
import { type FinishReason, finishReason } from "./finishReason.js"
import { type OpenAiUsage, readCounts, toOpenAiUsage, toUsage } from "./usage.js"

/**
 * A whole Anthropic `message` as an OpenAI `chat.completion`.
 *
 * Text blocks are concatenated into `message.content`; `tool_use` blocks become `tool_calls`
 * (their `input` object re-serialised as the `arguments` text OpenAI clients parse); thinking,
 * redacted thinking and server-tool blocks have no OpenAI counterpart and are dropped. Content
 * is `null` when the answer is only tool calls, as OpenAI sends it. The id keeps Anthropic's
 * (`chatcmpl-msg_...`), so one id finds the call in both providers' logs; `model` is the name
 * the client asked for, not Anthropic's.
 */

export interface OpenAiToolCall {
  readonly id: string
  readonly type: "function"
  readonly function: { readonly name: string; readonly arguments: string }
}

export interface OpenAiAssistantMessage {
  readonly role: "assistant"
  readonly content: string | null
  readonly refusal: null
  readonly tool_calls?: ReadonlyArray<OpenAiToolCall>
}

export interface ChatCompletion {
  readonly id: string
  readonly object: "chat.completion"
  readonly created: number
  readonly model: string
  readonly choices: readonly [
    {
      readonly index: 0
      readonly message: OpenAiAssistantMessage
      readonly logprobs: null
      readonly finish_reason: FinishReason
    }
  ]
  readonly usage: OpenAiUsage
}

export interface TranslatedCompletion {
  readonly completion: ChatCompletion
  readonly usage: Usage
}

/** `chatcmpl-` plus Anthropic's message id: OpenAI's prefix, Anthropic's identity. */
export const completionId = (messageId: string): string => `chatcmpl-${messageId}`

const protocol = (detail: string) => Either.left(new AnthropicProtocolError({ detail }))

export const fromAnthropicResponse = (
  json: unknown,
  clientModel: string,
  created: number
): Either.Either<TranslatedCompletion, AnthropicProtocolError> => {
  if (!Predicate.isRecord(json)) return protocol("the response body is not a JSON object")
  if (json.type !== "message") return protocol('the response body is not a "message"')
  const { id, content } = json
  if (typeof id !== "string") return protocol("the message has no string id")
  if (!Array.isArray(content)) return protocol("the message has no content array")
  if (!Predicate.isRecord(json.usage)) return protocol("the message has no usage object")

  let text = ""
  const toolCalls: Array<OpenAiToolCall> = []
  for (const block of content as ReadonlyArray<unknown>) {
    if (!Predicate.isRecord(block)) return protocol("a content block is not an object")
    if (block.type === "text") {
      if (typeof block.text !== "string") return protocol("a text block has no text")
      text += block.text
    } else if (block.type === "tool_use") {
      if (typeof block.id !== "string" || typeof block.name !== "string") {
        return protocol("a tool_use block has no id or name")
      }
      toolCalls.push({
        id: block.id,
        type: "function",
        function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) }
      })
    }
  }

  const usage = toUsage(readCounts(json.usage))
  const message: OpenAiAssistantMessage = {
    role: "assistant",
    content: text === "" && toolCalls.length > 0 ? null : text,
    refusal: null,
    ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {})
  }
  return Either.right({
    completion: {
      id: completionId(id),
      object: "chat.completion",
      created,
      model: clientModel,
      choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason(json.stop_reason) }],
      usage: toOpenAiUsage(usage)
    },
    usage
  })
}
