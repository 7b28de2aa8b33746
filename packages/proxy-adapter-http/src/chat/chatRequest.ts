import { type ChatCompletionRequest, type MalformedJson, ValidationFailed } from "@ibex/domain"
import { Either } from "effect"
import { validateChatCompletion } from "../chatValidation.js"
import { parseJson } from "../edge/readBody.js"

/** What the upstream stage needs from a validated chat body. */
export interface ChatIntent {
  readonly body: ChatCompletionRequest
  readonly model: string
  readonly stream: boolean
  /** The client asked for the usage chunk (`stream_options.include_usage`); the proxy always asks upstream. */
  readonly wantsUsageChunk: boolean
}

/** JSON → OpenAI schema → intent. Unknown fields stay in `body`, for the provider. */
export const parseChatRequest = (raw: Buffer): Either.Either<ChatIntent, MalformedJson | ValidationFailed> =>
  Either.flatMap(parseJson(raw), (json) => {
    const validated = validateChatCompletion(json)
    if (Either.isLeft(validated)) return Either.left(new ValidationFailed({ fieldErrors: [...validated.left] }))
    const body = validated.right
    const stream = body.stream === true
    return Either.right({
      body,
      model: body.model,
      stream,
      wantsUsageChunk: stream && body.stream_options?.include_usage === true
    })
  })
