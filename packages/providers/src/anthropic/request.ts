import type { ChatCompletionRequest } from "@ibex/domain"
import { Either } from "effect"
import { AnthropicTranslationError } from "./errors.js"
import { translateMessages } from "./messages.js"
import { translateTools } from "./tools.js"
import type { AnthropicRequestBody } from "./wire.js"

/**
 * A validated OpenAI chat-completions request as an Anthropic Messages request body. Pure: no
 * I/O, the caller sends it (with `anthropic-version` and the key).
 *
 * Mapped: `messages` (see messages.ts), `tools` / `tool_choice` / `parallel_tool_calls` (see
 * tools.ts), `max_completion_tokens` ?? `max_tokens` ?? DEFAULT_MAX_TOKENS -> `max_tokens`,
 * `temperature` (capped at 1, below), `top_p`, `stop` -> `stop_sequences`, `user` ->
 * `metadata.user_id`, `response_format: json_schema` -> `output_config.format` (Anthropic's
 * structured outputs; a model without them answers 400 itself, which is still no silent
 * change), and `stream` (from the caller, who has normalised it).
 *
 * Refused (AnthropicTranslationError, answered 400), because Anthropic cannot do them and
 * ignoring them would change what the client gets:
 *   `n` > 1 · `logprobs: true` · non-empty `logit_bias` · `audio` · `"audio"` in `modalities` ·
 *   `response_format: json_object` (Anthropic has JSON-schema outputs only) · `json_schema`
 *   without a schema · `web_search_options` · the legacy `functions` / `function_call`, role
 *   `function` messages and assistant `function_call` · `input_audio` parts · assistant `audio`
 *   references · `file` parts given by OpenAI file id or holding anything but a PDF · images
 *   not JPEG/PNG/GIF/WebP or not given as http(s) or base64 data URL · tool-call arguments
 *   that are not a JSON object · a conversation with no user or assistant content.
 *
 * Dropped, because they only tune or label the answer and Anthropic has no counterpart:
 *   `seed` (best effort at OpenAI too) · `presence_penalty` · `frequency_penalty` ·
 *   `reasoning_effort` · `prediction` (a latency hint) · `store` · `metadata` (OpenAI's stored
 *   completions labels) · `service_tier` · `stream_options` (read by the stream translator) ·
 *   `response_format: text` · `modalities: ["text"]` · `tools[].function.strict` · image
 *   `detail` · message `name` · assistant `refusal` · `top_p: 1` (no-op; newer Claude models
 *   refuse `top_p` next to `temperature`, and SDKs often send both defaults) · any field OpenAI
 *   does not define.
 *
 * Temperature: OpenAI's range is 0–2, Anthropic's 0–1. Values above 1 are capped at 1 rather
 * than halved, like Anthropic's own compatibility layer, so 0–1 (what most clients send) keeps
 * its meaning exactly and only "more random than 1" is approximated.
 */

/** `max_tokens` when the client set neither `max_completion_tokens` nor `max_tokens`: Anthropic requires one. */
export const DEFAULT_MAX_TOKENS = 4096

const refusal = (field: string, message: string) => new AnthropicTranslationError({ field, message })

const set = <A>(value: A | null | undefined): value is A => value !== undefined && value !== null

/** The first field the request sets that Anthropic cannot honour, if any. */
const unsupported = (request: ChatCompletionRequest): AnthropicTranslationError | undefined => {
  if (set(request.n) && request.n > 1) {
    return refusal("n", "must be 1 for Anthropic models, which return one choice per request")
  }
  if (request.logprobs === true) {
    return refusal("logprobs", "is not supported: Anthropic models do not return log probabilities")
  }
  if (set(request.logit_bias) && Object.keys(request.logit_bias).length > 0) {
    return refusal("logit_bias", "is not supported: Anthropic models have no token biases (token ids are OpenAI's)")
  }
  if (set(request.audio)) return refusal("audio", "is not supported: Anthropic models do not produce audio")
  if (set(request.modalities) && request.modalities.includes("audio")) {
    return refusal("modalities", "must not include audio: Anthropic models produce text only")
  }
  if (set(request.functions) && request.functions.length > 0) {
    return refusal("functions", "is not supported for Anthropic models: use tools instead")
  }
  if (set(request.function_call)) {
    return refusal("function_call", "is not supported for Anthropic models: use tool_choice instead")
  }
  if (set(request.web_search_options)) {
    return refusal("web_search_options", "is not supported for Anthropic models")
  }
  return undefined
}

type OutputConfig = Pick<AnthropicRequestBody, "output_config">

const outputConfig = (
  format: ChatCompletionRequest["response_format"]
): Either.Either<OutputConfig, AnthropicTranslationError> => {
  if (!set(format) || format.type === "text") return Either.right({})
  if (format.type === "json_object") {
    return Either.left(
      refusal(
        "response_format.type",
        'must be "text" or "json_schema" for Anthropic models, which constrain output to a JSON schema only'
      )
    )
  }
  const schema = format.json_schema.schema
  if (schema === undefined) {
    return Either.left(refusal("response_format.json_schema.schema", "is required for Anthropic models"))
  }
  return Either.right({ output_config: { format: { type: "json_schema", schema } } })
}

const stopSequences = (stop: ChatCompletionRequest["stop"]): ReadonlyArray<string> | undefined => {
  if (!set(stop)) return undefined
  const list = typeof stop === "string" ? [stop] : stop
  return list.length === 0 ? undefined : list
}

/** `user`, or its successor `safety_identifier` (not in our schema yet, so checked here). */
const userId = (body: Readonly<Record<string, unknown>>): string | undefined => {
  const id = typeof body.user === "string" && body.user !== "" ? body.user : body.safety_identifier
  return typeof id === "string" && id !== "" ? id : undefined
}

/**
 * `body` must be a request `decodeChatCompletionRequest` accepted (its fields are trusted to
 * have their documented types); `upstreamModel` replaces the client's model name.
 */
export const toAnthropicRequest = (
  body: Readonly<Record<string, unknown>>,
  upstreamModel: string,
  stream: boolean
): Either.Either<AnthropicRequestBody, AnthropicTranslationError> => {
  const request = body as unknown as ChatCompletionRequest
  const refused = unsupported(request)
  if (refused !== undefined) return Either.left(refused)
  const translated = translateMessages(request.messages)
  if (Either.isLeft(translated)) return Either.left(translated.left)
  const output = outputConfig(request.response_format)
  if (Either.isLeft(output)) return Either.left(output.left)

  const { system, messages } = translated.right
  const maxTokens = request.max_completion_tokens ?? request.max_tokens ?? DEFAULT_MAX_TOKENS
  const stop = stopSequences(request.stop)
  const user = userId(body)
  return Either.right({
    model: upstreamModel,
    ...(system !== undefined ? { system } : {}),
    messages,
    max_tokens: maxTokens,
    ...(set(request.temperature) ? { temperature: Math.min(request.temperature, 1) } : {}),
    ...(set(request.top_p) && request.top_p !== 1 ? { top_p: request.top_p } : {}),
    ...(stop !== undefined ? { stop_sequences: stop } : {}),
    ...translateTools(request.tools, request.tool_choice, request.parallel_tool_calls),
    ...output.right,
    ...(user !== undefined ? { metadata: { user_id: user } } : {}),
    stream
  })
}
