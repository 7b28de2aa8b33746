import type { AnswerContext, Dialect, ErrorAnswer, Failure, ParsedRequest } from "./dialect.js"
import { contextLimitTokens } from "./faults.js"
import { isRecord, jsonPieces, type Plan, textOf, textPieces } from "./reply.js"

/**
 * OpenAI Chat Completions: `POST /v1/chat/completions` and `GET /v1/models`. Bodies follow
 * OpenAI's wire format (chat.completion, chat.completion.chunk, `data: [DONE]`), so the official
 * SDK parses them; Azure reuses everything here but its routes, auth and error envelope.
 */

const fingerprint = "fp_mock"

export const parseOpenAI = (body: unknown, routeModel: string | undefined): ParsedRequest | Failure => {
  if (!isRecord(body)) return { reason: "invalid", message: "The request body must be a JSON object.", param: "body" }
  const model = routeModel ?? body.model
  if (typeof model !== "string" || model === "")
    return { reason: "invalid", message: "you must provide a model parameter", param: "model" }
  const messages = body.messages
  if (!Array.isArray(messages) || messages.length === 0)
    return { reason: "invalid", message: "Missing required parameter: 'messages'.", param: "messages" }

  let chars = 0
  let lastUserText = ""
  for (const m of messages) {
    if (!isRecord(m)) continue
    const text = textOf(m.content)
    chars += text.length
    if (m.role === "user") lastUserText = text
  }
  const last = messages[messages.length - 1]
  const lastRole = isRecord(last) ? last.role : undefined
  const streamOptions = body.stream_options
  const maxTokens = body.max_completion_tokens ?? body.max_tokens
  return {
    model,
    stream: body.stream === true,
    includeUsage: isRecord(streamOptions) && streamOptions.include_usage === true,
    prompt: {
      lastUserText,
      toolResult: lastRole === "tool" && isRecord(last) ? textOf(last.content) : undefined,
      endsWithUser: lastRole === "user",
      promptChars: chars,
      tool: chosenTool(body.tools, body.tool_choice),
      maxTokens: typeof maxTokens === "number" ? maxTokens : undefined
    }
  }
}

/** The first function tool, or the one tool_choice names; none when tool_choice is "none". */
const chosenTool = (tools: unknown, choice: unknown): string | undefined => {
  if (!Array.isArray(tools) || choice === "none") return undefined
  if (isRecord(choice) && isRecord(choice.function) && typeof choice.function.name === "string")
    return choice.function.name
  for (const t of tools) {
    if (isRecord(t) && isRecord(t.function) && typeof t.function.name === "string") return t.function.name
  }
  return undefined
}

const usage = (plan: Plan) => ({
  prompt_tokens: plan.promptTokens,
  completion_tokens: plan.completionTokens,
  total_tokens: plan.promptTokens + plan.completionTokens,
  prompt_tokens_details: { cached_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 0 }
})

const finishReason = (plan: Plan): string => (plan.kind === "tool" ? "tool_calls" : plan.truncated ? "length" : "stop")

export const toolCallId = (n: number): string => `call_mock_${n}`

export const openAICompletion = (plan: Plan, ctx: AnswerContext): unknown => ({
  id: `chatcmpl-mock-${ctx.n}`,
  object: "chat.completion",
  created: ctx.created,
  model: ctx.model,
  system_fingerprint: fingerprint,
  choices: [
    {
      index: 0,
      message:
        plan.kind === "tool"
          ? {
              role: "assistant",
              content: null,
              refusal: null,
              tool_calls: [
                {
                  id: toolCallId(ctx.n),
                  type: "function",
                  function: { name: plan.name, arguments: plan.arguments }
                }
              ]
            }
          : { role: "assistant", content: plan.text, refusal: null },
      logprobs: null,
      finish_reason: finishReason(plan)
    }
  ],
  usage: usage(plan)
})

/**
 * With include_usage every chunk carries `usage: null` and one last chunk with `choices: []`
 * carries the totals; without it chunks have no usage field at all (OpenAI's documented behaviour).
 */
export const openAIFrames = (plan: Plan, ctx: AnswerContext): string[] => {
  const head = {
    id: `chatcmpl-mock-${ctx.n}`,
    object: "chat.completion.chunk",
    created: ctx.created,
    model: ctx.model,
    system_fingerprint: fingerprint
  }
  const chunk = (delta: unknown, finish: string | null): string =>
    frame({
      ...head,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(ctx.includeUsage ? { usage: null } : {})
    })
  const frames: string[] = []
  if (plan.kind === "tool") {
    frames.push(
      chunk(
        {
          role: "assistant",
          content: null,
          refusal: null,
          tool_calls: [
            { index: 0, id: toolCallId(ctx.n), type: "function", function: { name: plan.name, arguments: "" } }
          ]
        },
        null
      )
    )
    for (const piece of jsonPieces(plan.arguments))
      frames.push(chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] }, null))
  } else {
    frames.push(chunk({ role: "assistant", content: "", refusal: null }, null))
    for (const piece of textPieces(plan.text)) frames.push(chunk({ content: piece }, null))
  }
  frames.push(chunk({}, finishReason(plan)))
  if (ctx.includeUsage) frames.push(frame({ ...head, choices: [], usage: usage(plan) }))
  frames.push("data: [DONE]\n\n")
  return frames
}

const frame = (value: unknown): string => `data: ${JSON.stringify(value)}\n\n`

/** OpenAI sends an error object as a data line once the 200 has gone out; its SDK throws on it. */
export const openAIStreamErrorFrame = (): string =>
  frame({ error: openAIError("The server had an error while processing your request. Sorry about that!", 500) })

const defaultMessages: Record<number, string> = {
  429: "Rate limit reached for requests. Please try again in 1s.",
  500: "The server had an error while processing your request. Sorry about that!",
  502: "Bad gateway.",
  503: "The server is overloaded or not ready yet.",
  504: "Gateway timeout."
}

export const statusMessage = (status: number, message: string | undefined): string =>
  message ?? defaultMessages[status] ?? `Mock upstream error ${status}.`

const errorType = (status: number): string =>
  status === 429 ? "requests" : status >= 500 ? "server_error" : "invalid_request_error"

export const openAIError = (
  message: string,
  status: number,
  code: string | null = status === 429 ? "rate_limit_exceeded" : null,
  param: string | null = null
) => ({ message, type: errorType(status), param, code })

export const contextLengthMessage = `This model's maximum context length is ${contextLimitTokens} tokens`

export const openAIFailure = (failure: Failure): ErrorAnswer => {
  switch (failure.reason) {
    case "unauthorized":
      return {
        status: 401,
        body: {
          error: openAIError(
            "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
            401,
            "invalid_api_key"
          )
        }
      }
    case "not-found":
      return {
        status: 404,
        body: { error: openAIError(`Invalid URL (${failure.method} ${failure.path})`, 404) }
      }
    case "version-missing":
      return { status: 400, body: { error: openAIError("Missing api version.", 400) } }
    case "malformed-json":
      return {
        status: 400,
        body: { error: openAIError("We could not parse the JSON body of your request.", 400) }
      }
    case "invalid":
      return { status: 400, body: { error: openAIError(failure.message, 400, null, failure.param) } }
    case "context-length":
      return {
        status: 400,
        body: { error: openAIError(contextLengthMessage, 400, "context_length_exceeded", "messages") }
      }
    case "status":
      return {
        status: failure.status,
        body: { error: openAIError(statusMessage(failure.status, failure.message), failure.status) }
      }
    case "stream-error":
      return { status: 500, body: { error: openAIError(statusMessage(500, undefined), 500) } }
  }
}

export const openAI: Dialect = {
  name: "openai",
  precheck: () => undefined,
  authorized: (req, apiKey) => req.headers.authorization === `Bearer ${apiKey}`,
  parse: parseOpenAI,
  headers: (n) => ({ "x-request-id": `req_mock_${n}` }),
  failure: openAIFailure,
  completion: openAICompletion,
  frames: openAIFrames,
  streamErrorFrame: openAIStreamErrorFrame
}
