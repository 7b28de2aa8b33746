/**
 * The part of Anthropic's Messages API request body (POST /v1/messages, `anthropic-version:
 * 2023-06-01`) that the translation writes. Only what we produce is typed here: the request is
 * built by us, so a narrow type keeps us from sending a field Anthropic does not define.
 */

export interface AnthropicTextBlock {
  readonly type: "text"
  readonly text: string
}

/** Anthropic accepts these four image types; anything else is refused before sending. */
export type AnthropicImageMediaType = "image/jpeg" | "image/png" | "image/gif" | "image/webp"

export type AnthropicImageSource =
  | { readonly type: "base64"; readonly media_type: AnthropicImageMediaType; readonly data: string }
  | { readonly type: "url"; readonly url: string }

export interface AnthropicImageBlock {
  readonly type: "image"
  readonly source: AnthropicImageSource
}

/** A PDF, from an OpenAI `file` part carrying the file inline. */
export interface AnthropicDocumentBlock {
  readonly type: "document"
  readonly source: { readonly type: "base64"; readonly media_type: "application/pdf"; readonly data: string }
  readonly title?: string
}

export interface AnthropicToolUseBlock {
  readonly type: "tool_use"
  readonly id: string
  readonly name: string
  readonly input: Readonly<Record<string, unknown>>
}

export interface AnthropicToolResultBlock {
  readonly type: "tool_result"
  readonly tool_use_id: string
  /** Absent for an empty result: Anthropic refuses empty text blocks. */
  readonly content?: string | ReadonlyArray<AnthropicTextBlock>
}

export type AnthropicUserBlock =
  | AnthropicTextBlock
  | AnthropicImageBlock
  | AnthropicDocumentBlock
  | AnthropicToolResultBlock
export type AnthropicAssistantBlock = AnthropicTextBlock | AnthropicToolUseBlock

export type AnthropicMessage =
  | { readonly role: "user"; readonly content: ReadonlyArray<AnthropicUserBlock> }
  | { readonly role: "assistant"; readonly content: ReadonlyArray<AnthropicAssistantBlock> }

export interface AnthropicTool {
  readonly name: string
  readonly description?: string
  readonly input_schema: Readonly<Record<string, unknown>>
}

export type AnthropicToolChoice =
  | { readonly type: "auto"; readonly disable_parallel_tool_use?: boolean }
  | { readonly type: "any"; readonly disable_parallel_tool_use?: boolean }
  | { readonly type: "tool"; readonly name: string; readonly disable_parallel_tool_use?: boolean }
  | { readonly type: "none" }

export interface AnthropicRequestBody {
  readonly model: string
  readonly messages: ReadonlyArray<AnthropicMessage>
  /** Required by Anthropic (OpenAI's is optional). */
  readonly max_tokens: number
  readonly system?: string
  readonly temperature?: number
  readonly top_p?: number
  readonly stop_sequences?: ReadonlyArray<string>
  readonly tools?: ReadonlyArray<AnthropicTool>
  readonly tool_choice?: AnthropicToolChoice
  readonly metadata?: { readonly user_id: string }
  /** Structured outputs (JSON schema constrained decoding), from `response_format: json_schema`. */
  readonly output_config?: {
    readonly format: { readonly type: "json_schema"; readonly schema: Readonly<Record<string, unknown>> }
  }
  readonly stream: boolean
}
