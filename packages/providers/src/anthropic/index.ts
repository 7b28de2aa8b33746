/**
 * OpenAI chat completions <-> Anthropic Messages, as pure functions. The HTTP adapter sends
 * what `toAnthropicRequest` builds and hands what comes back to `fromAnthropicResponse`,
 * `fromAnthropicError` or, event by event (parsed by `makeSseParser`), a stream translator.
 */
export { AnthropicProtocolError, AnthropicStreamError, AnthropicTranslationError } from "./errors.js"
export { type FinishReason, finishReason } from "./finishReason.js"
export { fromAnthropicError, statusOfAnthropicErrorType } from "./providerError.js"
export { DEFAULT_MAX_TOKENS, toAnthropicRequest } from "./request.js"
export {
  type ChatCompletion,
  fromAnthropicResponse,
  type OpenAiAssistantMessage,
  type OpenAiToolCall,
  type TranslatedCompletion
} from "./response.js"
export {
  makeStreamTranslator,
  type StreamFailure,
  type StreamTranslator,
  type StreamTranslatorOptions
} from "./stream.js"
export type { OpenAiUsage } from "./usage.js"
export type * from "./wire.js"
