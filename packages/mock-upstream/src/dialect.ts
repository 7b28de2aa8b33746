import type { Plan, Prompt } from "./reply.js"
import type { DialectName } from "./types.js"

/** Why a request is refused; each dialect words and shapes the answer its provider's way. */
export type Failure =
  | { readonly reason: "unauthorized" }
  | { readonly reason: "not-found"; readonly method: string; readonly path: string }
  | { readonly reason: "version-missing" }
  | { readonly reason: "malformed-json" }
  | { readonly reason: "invalid"; readonly message: string; readonly param: string }
  | { readonly reason: "context-length"; readonly promptTokens: number }
  | { readonly reason: "status"; readonly status: number; readonly message: string | undefined }
  /** A stream-error fault on a non-streaming request: the status the in-stream error stands for. */
  | { readonly reason: "stream-error" }

export interface ErrorAnswer {
  readonly status: number
  readonly body: unknown
}

export interface ParsedRequest {
  readonly model: string
  readonly stream: boolean
  /** OpenAI's stream_options.include_usage. */
  readonly includeUsage: boolean
  readonly prompt: Prompt
}

/** Per-answer values every rendering needs. */
export interface AnswerContext {
  readonly n: number
  readonly model: string
  /** Unix seconds. */
  readonly created: number
  readonly includeUsage: boolean
}

export interface Incoming {
  readonly headers: Readonly<Record<string, string>>
  readonly query: Readonly<Record<string, string>>
}

export interface Dialect {
  readonly name: DialectName
  /** A route-level requirement (Azure's api-version, Anthropic's anthropic-version). */
  readonly precheck: (req: Incoming) => Failure | undefined
  readonly authorized: (req: Incoming, apiKey: string) => boolean
  /** `routeModel` is the model the URL names (Azure's deployment), which wins over the body's. */
  readonly parse: (body: unknown, routeModel: string | undefined) => ParsedRequest | Failure
  readonly headers: (n: number) => Record<string, string>
  readonly failure: (failure: Failure, n: number) => ErrorAnswer
  readonly completion: (plan: Plan, ctx: AnswerContext) => unknown
  /** The whole stream as SSE frames; each frame is one "chunk" for afterChunks. */
  readonly frames: (plan: Plan, ctx: AnswerContext) => string[]
  /** The provider's in-stream error frame (after a 200 has gone out). */
  readonly streamErrorFrame: () => string
}

export const isFailure = (value: ParsedRequest | Failure): value is Failure => "reason" in value
