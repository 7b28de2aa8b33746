import { Data } from "effect"

/**
 * The client's OpenAI request asks for something Anthropic's Messages API cannot do without
 * changing what the request means (several choices, log probabilities, audio, legacy
 * functions, ...). The proxy answers 400 with it: a refusal the client can act on beats an
 * answer that silently differs from what was asked. `field` is the dotted path into the OpenAI
 * request (`messages.2.content.0`), like the domain's `FieldError`; `message` says what is
 * unsupported and never repeats the client's value.
 */
export class AnthropicTranslationError extends Data.TaggedError("AnthropicTranslationError")<{
  readonly field: string
  readonly message: string
}> {}

/**
 * Anthropic answered 2xx with something that is not its protocol (not JSON, a missing field,
 * events out of order). The adapter reports it as `UpstreamProtocolError`: a provider fault,
 * never the client's (so it is a different class from the 400 above).
 */
export class AnthropicProtocolError extends Data.TaggedError("AnthropicProtocolError")<{
  readonly detail: string
}> {}

/**
 * Anthropic reported an error inside a stream that had already answered 200 (`event: error`,
 * e.g. `overloaded_error`). `errorType` is Anthropic's `error.type`; `message` its own text, not
 * yet scrubbed (the adapter scrubs it like any provider message).
 */
export class AnthropicStreamError extends Data.TaggedError("AnthropicStreamError")<{
  readonly errorType: string
  readonly message: string
}> {}
