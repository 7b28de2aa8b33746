/**
 * Anthropic's `stop_reason` as OpenAI's `finish_reason`, for whole answers and streams alike.
 *
 * `pause_turn` (a server-tool loop hit its iteration limit) is "stop": the answer so far is
 * whole, OpenAI has no "continue me" reason, and the client may simply ask again.
 * `model_context_window_exceeded` is a truncation, like `max_tokens`. A reason added to the
 * API after this was written reads as "stop" rather than failing an answer that arrived.
 */

export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter"

export const finishReason = (stopReason: unknown): FinishReason => {
  switch (stopReason) {
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length"
    case "tool_use":
      return "tool_calls"
    case "refusal":
      return "content_filter"
    default:
      // end_turn, stop_sequence, pause_turn, and anything newer.
      return "stop"
  }
}
