import { type ChatCompletionRequest, decodeChatCompletionRequest, type FieldError } from "@ibex/domain"
import type { Either } from "effect"

/**
 * The one seam between the edge and the chat request schema (the domain's
 * `decodeChatCompletionRequest`): every field error it finds, each with a dotted path.
 */
export const validateChatCompletion = (
  input: unknown
): Either.Either<ChatCompletionRequest, ReadonlyArray<FieldError>> => decodeChatCompletionRequest(input)
