import type { AnswerContext, Dialect, ErrorAnswer, Failure, ParsedRequest } from "./dialect.js"
import { contextLimitTokens } from "./faults.js"
import { isRecord, jsonPieces, type Plan, textOf, textPieces } from "./reply.js"

/**
 * Anthropic Messages: `POST /v1/messages` with a required `anthropic-version` header. Answers
 * follow Anthropic's wire format: a `message` object, or the SSE sequence message_start,
 * content_block_start, ping, content_block_delta…, content_block_stop, message_delta,
 * message_stop; errors as `{type: "error", error: {type, message}, request_id}`.
 */

const invalid = (message: string): Failure => ({ reason: "invalid", message, param: "" })

const parse = (body: unknown): ParsedRequest | Failure => {
  if (!isRecord(body)) return invalid("body: Input should be an object")
  const { model, messages } = body
  if (typeof model !== "string" || model === "") return invalid("model: Field required")
  if (!Array.isArray(messages) || messages.length === 0) return invalid("messages: Field required")
  if (typeof body.max_tokens !== "number") return invalid("max_tokens: Field required")

  let chars = textOf(body.system).length
  let lastUserText = ""
  for (const m of messages) {
    if (!isRecord(m)) continue
    chars += textOf(m.content).length + toolResultText(m.content).length
    if (m.role === "user") lastUserText = textOf(m.content)
  }
  const last = messages[messages.length - 1]
  const lastIsUser = isRecord(last) && last.role === "user"
  // A tool result travels as a user message holding tool_result blocks.
  const hasToolResult = lastIsUser && Array.isArray(last.content) && last.content.some(isToolResult)
  return {
    model,
    stream: body.stream === true,
    includeUsage: false,
    prompt: {
      lastUserText,
      toolResult: hasToolResult ? toolResultText(last.content) : undefined,
      endsWithUser: lastIsUser && !hasToolResult,
      promptChars: chars,
      tool: chosenTool(body.tools, body.tool_choice),
      maxTokens: body.max_tokens
    }
  }
}

const isToolResult = (block: unknown): boolean => isRecord(block) && block.type === "tool_result"

const toolResultText = (content: unknown): string => {
  if (!Array.isArray(content)) return ""
  const texts: string[] = []
  for (const block of content) if (isRecord(block) && isToolResult(block)) texts.push(textOf(block.content))
  return texts.join("\n")
}

const chosenTool = (tools: unknown, choice: unknown): string | undefined => {
  if (!Array.isArray(tools)) return undefined
  if (isRecord(choice)) {
    if (choice.type === "none") return undefined
    if (choice.type === "tool" && typeof choice.name === "string") return choice.name
  }
  for (const t of tools) if (isRecord(t) && typeof t.name === "string") return t.name
  return undefined
}

const stopReason = (plan: Plan): string =>
  plan.kind === "tool" ? "tool_use" : plan.truncated ? "max_tokens" : "end_turn"

const toolUseId = (n: number): string => `toolu_mock_${n}`

const completion = (plan: Plan, ctx: AnswerContext): unknown => ({
  id: `msg_mock_${ctx.n}`,
  type: "message",
  role: "assistant",
  model: ctx.model,
  content:
    plan.kind === "tool"
      ? [{ type: "tool_use", id: toolUseId(ctx.n), name: plan.name, input: plan.input }]
      : [{ type: "text", text: plan.text }],
  stop_reason: stopReason(plan),
  stop_sequence: null,
  usage: {
    input_tokens: plan.promptTokens,
    output_tokens: plan.completionTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0
  }
})

const event = (type: string, data: unknown): string => `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`

/**
 * message_start carries output_tokens 1 as Anthropic's does; message_delta carries the final
 * (cumulative) output count, which is the one to bill.
 */
const frames = (plan: Plan, ctx: AnswerContext): string[] => {
  const out: string[] = [
    event("message_start", {
      type: "message_start",
      message: {
        id: `msg_mock_${ctx.n}`,
        type: "message",
        role: "assistant",
        model: ctx.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: plan.promptTokens,
          output_tokens: 1,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0
        }
      }
    })
  ]
  const block =
    plan.kind === "tool"
      ? { type: "tool_use", id: toolUseId(ctx.n), name: plan.name, input: {} }
      : { type: "text", text: "" }
  out.push(event("content_block_start", { type: "content_block_start", index: 0, content_block: block }))
  out.push(event("ping", { type: "ping" }))
  const deltas =
    plan.kind === "tool"
      ? jsonPieces(plan.arguments).map((partial_json) => ({ type: "input_json_delta", partial_json }))
      : textPieces(plan.text).map((text) => ({ type: "text_delta", text }))
  for (const delta of deltas) out.push(event("content_block_delta", { type: "content_block_delta", index: 0, delta }))
  out.push(event("content_block_stop", { type: "content_block_stop", index: 0 }))
  out.push(
    event("message_delta", {
      type: "message_delta",
      delta: { stop_reason: stopReason(plan), stop_sequence: null },
      usage: { output_tokens: plan.completionTokens }
    })
  )
  out.push(event("message_stop", { type: "message_stop" }))
  return out
}

const streamErrorFrame = (): string =>
  event("error", { type: "error", error: { type: "overloaded_error", message: "Overloaded" } })

const errorTypes: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  402: "billing_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  504: "timeout_error",
  529: "overloaded_error"
}
const errorType = (status: number): string =>
  errorTypes[status] ?? (status >= 500 ? "api_error" : "invalid_request_error")

const defaultMessages: Record<number, string> = {
  429: "Number of requests has exceeded your per-minute rate limit",
  500: "Internal server error",
  504: "Request timed out",
  529: "Overloaded"
}

const anthropicError = (status: number, message: string, n: number): ErrorAnswer => ({
  status,
  body: { type: "error", error: { type: errorType(status), message }, request_id: `req_mock_${n}` }
})

const failure = (f: Failure, n: number): ErrorAnswer => {
  switch (f.reason) {
    case "unauthorized":
      return anthropicError(401, "invalid x-api-key", n)
    case "not-found":
      return anthropicError(404, "Not Found", n)
    case "version-missing":
      return anthropicError(400, "anthropic-version: header is required", n)
    case "malformed-json":
      return anthropicError(400, "There was an error parsing the body of your request: invalid JSON", n)
    case "invalid":
      return anthropicError(400, f.message, n)
    case "context-length":
      return anthropicError(400, `prompt is too long: ${f.promptTokens} tokens > ${contextLimitTokens} maximum`, n)
    case "status":
      return anthropicError(f.status, f.message ?? defaultMessages[f.status] ?? `Mock upstream error ${f.status}`, n)
    case "stream-error":
      return anthropicError(529, "Overloaded", n)
  }
}

export const anthropic: Dialect = {
  name: "anthropic",
  precheck: (req) => (req.headers["anthropic-version"] ? undefined : { reason: "version-missing" }),
  authorized: (req, apiKey) => req.headers["x-api-key"] === apiKey,
  parse,
  headers: (n) => ({ "request-id": `req_mock_${n}` }),
  failure,
  completion,
  frames,
  streamErrorFrame
}
