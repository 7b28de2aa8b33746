/**
 * OpenAI chat completions <-> Anthropic Messages, as pure functions. The HTTP adapter sends
 * what `toAnthropicRequest` builds.
 */
export { AnthropicProtocolError, AnthropicStreamError, AnthropicTranslationError } from "./errors.js"
export { DEFAULT_MAX_TOKENS, toAnthropicRequest } from "./request.js"
export type * from "./wire.js"
