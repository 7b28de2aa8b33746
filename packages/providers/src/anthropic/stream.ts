import type { ChunkEvent } from "@ibex/domain"
import { Either, Option, Predicate } from "effect"
import { AnthropicProtocolError, AnthropicStreamError } from "./errors.js"
import { finishReason } from "./finishReason.js"
import { completionId } from "./response.js"
import { type AnthropicCounts, readCounts, toOpenAiUsage, toUsage, zeroCounts } from "./usage.js"

/**
 * Anthropic's streamed message, event by event, as the `chat.completion.chunk`s OpenAI would
 * have streamed for the same answer:
 *
 *   message_start        -> {role: "assistant", content: ""}
 *   text block deltas    -> {content}
 *   tool_use block start -> {tool_calls: [{index, id, type, function: {name, arguments: ""}}]}
 *   input_json_delta     -> {tool_calls: [{index, function: {arguments}}]}
 *   message_delta        -> {} with finish_reason (the first one that carries a stop_reason)
 *   message_stop         -> a usage-only chunk (`choices: []`), `usageOnly: true`
 *
 * `index` of a tool call counts tool calls (0, 1, ...), not Anthropic's content blocks, as
 * OpenAI numbers them. Thinking and signature deltas, server-tool and other blocks, `ping`
 * and event types newer than this code are passed over (Anthropic asks clients to ignore
 * unknown events). A tool call whose input arrived in no delta (a call without arguments)
 * gets `"{}"` at its block's end, so the streamed arguments parse to what the whole answer
 * would hold.
 *
 * The usage-only chunk is produced whether or not the client asked for it: the proxy meters
 * every stream and hides that chunk from a client that did not set `include_usage`. With
 * `include_usage`, every other chunk carries `"usage": null`, as OpenAI's do.
 *
 * Input tokens come from message_start's usage, output tokens from message_delta's (a
 * running total); a later usage value replaces an earlier one field by field, as the
 * Anthropic SDK accumulates them.
 *
 * Chunk JSON is assembled from a prefix fixed at message_start plus the delta's own JSON:
 * text deltas are most of a stream's events, and re-serialising the envelope for each of
 * them would be wasted work.
 */

export interface StreamTranslatorOptions {
  /** The model name the client asked for (what every chunk's `model` says). */
  readonly clientModel: string
  /** Unix seconds; the same on every chunk, as OpenAI sends it. */
  readonly created: number
  /** The client's `stream_options.include_usage`. */
  readonly includeUsage: boolean
}

export type StreamFailure = AnthropicProtocolError | AnthropicStreamError

export interface StreamTranslator {
  /** One SSE event (its `event:` name and `data:` text); the chunks it produces, in order. */
  readonly push: (event: string, data: string) => Either.Either<ReadonlyArray<ChunkEvent>, StreamFailure>
  /**
   * The upstream body ended (or failed). Returns the usage-only chunk if it has not been sent:
   * a stream cut short (or ended by an `error` event) after message_start still used tokens,
   * and the proxy meters them.
   */
  readonly end: () => ReadonlyArray<ChunkEvent>
  /** True once message_stop arrived: without it the answer is incomplete however the body ended. */
  readonly completed: () => boolean
}

type Block =
  | { readonly kind: "text" }
  | { readonly kind: "tool"; readonly toolIndex: number; readonly startInput: unknown; argumentsSent: boolean }
  | { readonly kind: "other" }

const nothing: ReadonlyArray<ChunkEvent> = []

const textDelta = (text: string): string => `{"content":${JSON.stringify(text)}}`

const content = (json: string): ChunkEvent => ({ json, usage: Option.none(), usageOnly: false })

const protocol = (detail: string) => Either.left(new AnthropicProtocolError({ detail }))

const blockIndex = (value: unknown): number | undefined =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : undefined

export const makeStreamTranslator = (options: StreamTranslatorOptions): StreamTranslator => {
  const usageField = options.includeUsage ? ',"usage":null' : ""
  /** `{"id":...,"model":...,` once message_start names the message. */
  let head: string | undefined
  let choiceOpen = ""
  /** By Anthropic's block index (an upstream number: a Map, so a huge one costs nothing). */
  const blocks = new Map<number, Block>()
  let toolCount = 0
  let counts: AnthropicCounts = zeroCounts
  let finishSent = false
  let usageSent = false
  let stopped = false
  let failed = false

  const chunk = (deltaJson: string): ChunkEvent =>
    content(`${choiceOpen}${deltaJson},"logprobs":null,"finish_reason":null}]${usageField}}`)

  const finishChunk = (stopReason: unknown): ChunkEvent => {
    finishSent = true
    const reason = JSON.stringify(finishReason(stopReason))
    return content(`${choiceOpen}{},"logprobs":null,"finish_reason":${reason}}]${usageField}}`)
  }

  const usageChunk = (): ChunkEvent => {
    usageSent = true
    const usage = toUsage(counts)
    return {
      json: `${head}"choices":[],"usage":${JSON.stringify(toOpenAiUsage(usage))}}`,
      usage: Option.some(usage),
      usageOnly: true
    }
  }

  const toolArguments = (toolIndex: number, text: string): ChunkEvent =>
    chunk(`{"tool_calls":[{"index":${toolIndex},"function":{"arguments":${JSON.stringify(text)}}}]}`)

  const messageStart = (event: Readonly<Record<string, unknown>>) => {
    if (head !== undefined) return protocol("a second message_start arrived")
    const message = event.message
    if (!Predicate.isRecord(message) || typeof message.id !== "string") {
      return protocol("message_start carries no message id")
    }
    head =
      `{"id":${JSON.stringify(completionId(message.id))},"object":"chat.completion.chunk",` +
      `"created":${options.created},"model":${JSON.stringify(options.clientModel)},`
    choiceOpen = `${head}"choices":[{"index":0,"delta":`
    counts = readCounts(message.usage)
    return Either.right([chunk('{"role":"assistant","content":""}')])
  }

  const blockStart = (event: Readonly<Record<string, unknown>>) => {
    const index = blockIndex(event.index)
    const block = event.content_block
    if (index === undefined || !Predicate.isRecord(block)) {
      return protocol("content_block_start carries no index or block")
    }
    if (block.type === "text") {
      blocks.set(index, { kind: "text" })
      return Either.right(
        typeof block.text === "string" && block.text !== "" ? [chunk(textDelta(block.text))] : nothing
      )
    }
    if (block.type === "tool_use") {
      if (typeof block.id !== "string" || typeof block.name !== "string") {
        return protocol("a tool_use block starts without id or name")
      }
      const toolIndex = toolCount++
      blocks.set(index, { kind: "tool", toolIndex, startInput: block.input, argumentsSent: false })
      const call = { index: toolIndex, id: block.id, type: "function", function: { name: block.name, arguments: "" } }
      return Either.right([chunk(`{"tool_calls":[${JSON.stringify(call)}]}`)])
    }
    blocks.set(index, { kind: "other" })
    return Either.right(nothing)
  }

  const blockDelta = (event: Readonly<Record<string, unknown>>) => {
    const index = blockIndex(event.index)
    const block = index === undefined ? undefined : blocks.get(index)
    const delta = event.delta
    if (block === undefined || !Predicate.isRecord(delta)) {
      return protocol("content_block_delta for a block that did not start")
    }
    if (delta.type === "text_delta" && block.kind === "text") {
      return Either.right(
        typeof delta.text === "string" && delta.text !== "" ? [chunk(textDelta(delta.text))] : nothing
      )
    }
    if (delta.type === "input_json_delta" && block.kind === "tool") {
      if (typeof delta.partial_json !== "string" || delta.partial_json === "") return Either.right(nothing)
      block.argumentsSent = true
      return Either.right([toolArguments(block.toolIndex, delta.partial_json)])
    }
    // thinking_delta, signature_delta, citations_delta, deltas of passed-over blocks.
    return Either.right(nothing)
  }

  const blockStop = (event: Readonly<Record<string, unknown>>) => {
    const index = blockIndex(event.index)
    const block = index === undefined ? undefined : blocks.get(index)
    if (block?.kind !== "tool" || block.argumentsSent) return Either.right(nothing)
    block.argumentsSent = true
    const input = Predicate.isRecord(block.startInput) ? block.startInput : {}
    return Either.right([toolArguments(block.toolIndex, JSON.stringify(input))])
  }

  const messageDelta = (event: Readonly<Record<string, unknown>>) => {
    counts = readCounts(event.usage, counts)
    const delta = event.delta
    const stopReason = Predicate.isRecord(delta) ? delta.stop_reason : undefined
    if (finishSent || stopReason === undefined || stopReason === null) return Either.right(nothing)
    return Either.right([finishChunk(stopReason)])
  }

  const messageStop = () => {
    stopped = true
    return Either.right(finishSent ? [usageChunk()] : [finishChunk(null), usageChunk()])
  }

  /** A protocol error ends the translation: nothing after it can be trusted to line up. */
  const guard = <A, E>(result: Either.Either<A, E>): Either.Either<A, E> => {
    if (Either.isLeft(result)) failed = true
    return result
  }

  const push = (event: string, data: string): Either.Either<ReadonlyArray<ChunkEvent>, StreamFailure> => {
    if (stopped || failed) return Either.right(nothing)
    let parsed: unknown
    try {
      parsed = JSON.parse(data)
    } catch {
      failed = true
      return protocol(`the data of a "${event.slice(0, 40)}" event is not JSON`)
    }
    if (!Predicate.isRecord(parsed)) {
      failed = true
      return protocol("an event's data is not a JSON object")
    }
    // Every Anthropic event names its type in its data too; the data is what we parse anyway.
    const type = typeof parsed.type === "string" ? parsed.type : event
    if (type === "ping") return Either.right(nothing)
    if (type === "error") {
      failed = true
      const error = Predicate.isRecord(parsed.error) ? parsed.error : {}
      return Either.left(
        new AnthropicStreamError({
          errorType: typeof error.type === "string" ? error.type : "error",
          message: typeof error.message === "string" ? error.message : "Anthropic reported an error in the stream"
        })
      )
    }
    if (type === "message_start") return guard(messageStart(parsed))
    if (head === undefined) {
      failed = true
      return protocol(`a "${type.slice(0, 40)}" event arrived before message_start`)
    }
    switch (type) {
      case "content_block_start":
        return guard(blockStart(parsed))
      case "content_block_delta":
        return guard(blockDelta(parsed))
      case "content_block_stop":
        return blockStop(parsed)
      case "message_delta":
        return messageDelta(parsed)
      case "message_stop":
        return messageStop()
      default:
        return Either.right(nothing)
    }
  }

  const end = (): ReadonlyArray<ChunkEvent> => (head === undefined || usageSent ? nothing : [usageChunk()])

  return { push, end, completed: () => stopped }
}
