import { Either } from "effect"
import { describe, expect, it } from "vitest"
import {
  AnthropicProtocolError,
  fromAnthropicError,
  fromAnthropicResponse,
  statusOfAnthropicErrorType,
  type TranslatedCompletion
} from "../src/anthropic/index.js"

const created = 1_764_000_000

const translate = (json: unknown): TranslatedCompletion => {
  const result = fromAnthropicResponse(json, "gpt-4o", created)
  if (Either.isLeft(result)) throw new Error(`expected a completion, got ${result.left.detail}`)
  return result.right
}

const message = (overrides: Record<string, unknown>) => ({
  id: "msg_01XFDUDYJgAACzvnptvVoYEL",
  type: "message",
  role: "assistant",
  model: "claude-sonnet-4-5-20250929",
  content: [{ type: "text", text: "Hello!" }],
  stop_reason: "end_turn",
  stop_sequence: null,
  usage: { input_tokens: 12, output_tokens: 6 },
  ...overrides
})

describe("fromAnthropicResponse", () => {
  it("translates a text answer into OpenAI's chat.completion", () => {
    expect(translate(message({}))).toEqual({
      completion: {
        id: "chatcmpl-msg_01XFDUDYJgAACzvnptvVoYEL",
        object: "chat.completion",
        created,
        model: "gpt-4o",
        choices: [
          {
            index: 0,
            message: { role: "assistant", content: "Hello!", refusal: null },
            logprobs: null,
            finish_reason: "stop"
          }
        ],
        usage: {
          prompt_tokens: 12,
          completion_tokens: 6,
          total_tokens: 18,
          prompt_tokens_details: { cached_tokens: 0 }
        }
      },
      usage: { promptTokens: 12, completionTokens: 6, cachedTokens: 0, totalTokens: 18 }
    })
  })

  it("concatenates text blocks, turns tool_use into tool_calls, drops thinking", () => {
    const { completion } = translate(
      message({
        content: [
          { type: "thinking", thinking: "The user wants weather.", signature: "EqQBCgIYAhIM" },
          { type: "redacted_thinking", data: "EmwKAhgB" },
          { type: "text", text: "Let me check " },
          { type: "text", text: "both cities." },
          { type: "tool_use", id: "toolu_01A", name: "get_weather", input: { city: "Paris", units: "c" } },
          { type: "tool_use", id: "toolu_01B", name: "get_time", input: {} }
        ],
        stop_reason: "tool_use"
      })
    )
    expect(completion.choices[0]).toEqual({
      index: 0,
      message: {
        role: "assistant",
        content: "Let me check both cities.",
        refusal: null,
        tool_calls: [
          {
            id: "toolu_01A",
            type: "function",
            function: { name: "get_weather", arguments: '{"city":"Paris","units":"c"}' }
          },
          { id: "toolu_01B", type: "function", function: { name: "get_time", arguments: "{}" } }
        ]
      },
      logprobs: null,
      finish_reason: "tool_calls"
    })
  })

  it("sends content null when the answer is only tool calls, as OpenAI does", () => {
    const { completion } = translate(
      message({ content: [{ type: "tool_use", id: "toolu_1", name: "f", input: {} }], stop_reason: "tool_use" })
    )
    expect(completion.choices[0].message.content).toBeNull()
    expect(translate(message({ content: [] })).completion.choices[0].message.content).toBe("")
  })

  it("maps every stop reason to a finish reason", () => {
    const finish = (stop_reason: unknown) => translate(message({ stop_reason })).completion.choices[0].finish_reason
    expect(finish("end_turn")).toBe("stop")
    expect(finish("stop_sequence")).toBe("stop")
    expect(finish("pause_turn")).toBe("stop")
    expect(finish("max_tokens")).toBe("length")
    expect(finish("model_context_window_exceeded")).toBe("length")
    expect(finish("tool_use")).toBe("tool_calls")
    expect(finish("refusal")).toBe("content_filter")
    expect(finish("something_new")).toBe("stop")
  })

  it("counts cache reads and writes as prompt tokens, reads also as cached", () => {
    const { completion, usage } = translate(
      message({
        usage: {
          input_tokens: 50,
          cache_creation_input_tokens: 1_000,
          cache_read_input_tokens: 2_000,
          output_tokens: 300,
          service_tier: "standard"
        }
      })
    )
    expect(usage).toEqual({ promptTokens: 3_050, completionTokens: 300, cachedTokens: 2_000, totalTokens: 3_350 })
    expect(completion.usage).toEqual({
      prompt_tokens: 3_050,
      completion_tokens: 300,
      total_tokens: 3_350,
      prompt_tokens_details: { cached_tokens: 2_000 }
    })
    // Null cache counts (as Anthropic sends them when caching is off) are 0.
    expect(
      translate(message({ usage: { input_tokens: 5, output_tokens: 1, cache_read_input_tokens: null } })).usage
    ).toEqual({ promptTokens: 5, completionTokens: 1, cachedTokens: 0, totalTokens: 6 })
  })

  it("reports a body that is not a message as a protocol error", () => {
    const bad = (json: unknown) => {
      const result = fromAnthropicResponse(json, "gpt-4o", created)
      if (Either.isRight(result)) throw new Error("expected a protocol error")
      expect(result.left).toBeInstanceOf(AnthropicProtocolError)
      return result.left.detail
    }
    expect(bad("Hello")).toMatch(/not a JSON object/)
    expect(bad({ type: "error", error: { type: "api_error", message: "boom" } })).toMatch(/not a "message"/)
    expect(bad(message({ id: 7 }))).toMatch(/id/)
    expect(bad(message({ content: "Hello" }))).toMatch(/content/)
    expect(bad(message({ usage: undefined }))).toMatch(/usage/)
    expect(bad(message({ content: [{ type: "text" }] }))).toMatch(/text block/)
    expect(bad(message({ content: [{ type: "tool_use", input: {} }] }))).toMatch(/tool_use/)
  })
})

describe("fromAnthropicError", () => {
  it("returns Anthropic's own message", () => {
    expect(
      fromAnthropicError(400, {
        type: "error",
        error: { type: "invalid_request_error", message: "max_tokens: 100000 > 64000, which is the maximum" },
        request_id: "req_011CSHoEeqs5C35K2UUqR7Fy"
      })
    ).toBe("max_tokens: 100000 > 64000, which is the maximum")
    expect(fromAnthropicError(529, { type: "error", error: { type: "overloaded_error", message: "Overloaded" } })).toBe(
      "Overloaded"
    )
  })

  it("still says something for a body that is not Anthropic's error shape", () => {
    expect(fromAnthropicError(529, { type: "error", error: { type: "overloaded_error" } })).toBe(
      "Anthropic answered HTTP 529 (overloaded_error)"
    )
    expect(fromAnthropicError(413, "<html>Request Entity Too Large</html>")).toBe("Anthropic answered HTTP 413")
    expect(fromAnthropicError(502, undefined)).toBe("Anthropic answered HTTP 502")
  })

  it("knows the status of each documented error type", () => {
    expect(statusOfAnthropicErrorType("overloaded_error")).toBe(529)
    expect(statusOfAnthropicErrorType("rate_limit_error")).toBe(429)
    expect(statusOfAnthropicErrorType("api_error")).toBe(500)
    expect(statusOfAnthropicErrorType("invalid_request_error")).toBe(400)
    expect(statusOfAnthropicErrorType("timeout_error")).toBe(504)
    expect(statusOfAnthropicErrorType("made_up_error")).toBeUndefined()
  })
})
