import { decodeChatCompletionRequest } from "@ibex/domain"
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import {
  type AnthropicRequestBody,
  AnthropicTranslationError,
  DEFAULT_MAX_TOKENS,
  toAnthropicRequest
} from "../src/anthropic/index.js"

/** Every body goes through the proxy's own validation first, as in production. */
const validated = (body: Record<string, unknown>): Readonly<Record<string, unknown>> => {
  const decoded = decodeChatCompletionRequest(body)
  if (Either.isLeft(decoded)) throw new Error(`test body is not a valid request: ${JSON.stringify(decoded.left)}`)
  return decoded.right
}

const translate = (body: Record<string, unknown>, stream = false): AnthropicRequestBody => {
  const result = toAnthropicRequest(validated({ model: "gpt-4o", ...body }), "claude-sonnet-4-5", stream)
  if (Either.isLeft(result)) throw new Error(`expected a translation, got ${result.left.field}: ${result.left.message}`)
  return result.right
}

const refused = (body: Record<string, unknown>): AnthropicTranslationError => {
  const result = toAnthropicRequest(validated({ model: "gpt-4o", ...body }), "claude-sonnet-4-5", false)
  if (Either.isRight(result)) throw new Error(`expected a refusal, got ${JSON.stringify(result.right)}`)
  expect(result.left).toBeInstanceOf(AnthropicTranslationError)
  return result.left
}

const hello = [{ role: "user", content: "Hello!" }]

describe("toAnthropicRequest: the envelope", () => {
  it("translates the minimal request: upstream model, default max_tokens, stream flag, array content", () => {
    expect(translate({ messages: hello })).toEqual({
      model: "claude-sonnet-4-5",
      messages: [{ role: "user", content: [{ type: "text", text: "Hello!" }] }],
      max_tokens: 4096,
      stream: false
    })
    expect(DEFAULT_MAX_TOKENS).toBe(4096)
    expect(translate({ messages: hello, stream: true }, true).stream).toBe(true)
  })

  it("takes max_completion_tokens over max_tokens, and max_tokens alone", () => {
    expect(translate({ messages: hello, max_tokens: 100, max_completion_tokens: 200 }).max_tokens).toBe(200)
    expect(translate({ messages: hello, max_tokens: 100 }).max_tokens).toBe(100)
    expect(translate({ messages: hello, max_tokens: null, max_completion_tokens: null }).max_tokens).toBe(4096)
  })

  it("caps temperature at Anthropic's 1 and keeps 0–1 as sent", () => {
    expect(translate({ messages: hello, temperature: 0 }).temperature).toBe(0)
    expect(translate({ messages: hello, temperature: 0.7 }).temperature).toBe(0.7)
    expect(translate({ messages: hello, temperature: 1 }).temperature).toBe(1)
    expect(translate({ messages: hello, temperature: 1.8 }).temperature).toBe(1)
    expect(translate({ messages: hello, temperature: null })).not.toHaveProperty("temperature")
  })

  it("keeps top_p except the no-op 1", () => {
    expect(translate({ messages: hello, top_p: 0.9 }).top_p).toBe(0.9)
    expect(translate({ messages: hello, top_p: 1 })).not.toHaveProperty("top_p")
  })

  it("sends stop (string or list) as stop_sequences", () => {
    expect(translate({ messages: hello, stop: "END" }).stop_sequences).toEqual(["END"])
    expect(translate({ messages: hello, stop: ["a", "b"] }).stop_sequences).toEqual(["a", "b"])
    expect(translate({ messages: hello, stop: [] })).not.toHaveProperty("stop_sequences")
    expect(translate({ messages: hello, stop: null })).not.toHaveProperty("stop_sequences")
  })

  it("sends user (or safety_identifier) as metadata.user_id", () => {
    expect(translate({ messages: hello, user: "user-123" }).metadata).toEqual({ user_id: "user-123" })
    expect(translate({ messages: hello, safety_identifier: "hash-9" }).metadata).toEqual({ user_id: "hash-9" })
    expect(translate({ messages: hello })).not.toHaveProperty("metadata")
  })

  it("drops fields that only tune or label the answer, and fields OpenAI does not define", () => {
    const body = translate({
      messages: hello,
      seed: 42,
      presence_penalty: 0.5,
      frequency_penalty: 0.5,
      reasoning_effort: "high",
      prediction: { type: "content", content: "draft" },
      store: true,
      metadata: { team: "search" },
      service_tier: "auto",
      stream: true,
      stream_options: { include_usage: true },
      response_format: { type: "text" },
      modalities: ["text"],
      logit_bias: {},
      parallel_tool_calls: true,
      top_k: 5,
      thinking: { type: "enabled", budget_tokens: 1024 }
    })
    expect(body).toEqual({
      model: "claude-sonnet-4-5",
      messages: [{ role: "user", content: [{ type: "text", text: "Hello!" }] }],
      max_tokens: 4096,
      stream: false
    })
  })
})

describe("toAnthropicRequest: messages", () => {
  it("hoists system and developer messages, in order, into the system prompt", () => {
    const body = translate({
      messages: [
        { role: "system", content: "You are terse." },
        { role: "developer", content: [{ type: "text", text: "Answer in French." }] },
        { role: "user", content: "Hi", name: "alice" },
        { role: "system", content: "Never use emoji." }
      ]
    })
    expect(body.system).toBe("You are terse.\nAnswer in French.\nNever use emoji.")
    expect(body.messages).toEqual([{ role: "user", content: [{ type: "text", text: "Hi" }] }])
  })

  it("merges consecutive turns of one role and leaves out empty ones", () => {
    const body = translate({
      messages: [
        { role: "user", content: "one" },
        {
          role: "user",
          content: [
            { type: "text", text: "two" },
            { type: "text", text: "" }
          ]
        },
        { role: "assistant", content: "" },
        { role: "user", content: "three" },
        {
          role: "assistant",
          content: [
            { type: "text", text: "a" },
            { type: "refusal", refusal: "no" }
          ]
        },
        { role: "assistant", content: "b", refusal: null }
      ]
    })
    expect(body.messages).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "one" },
          { type: "text", text: "two" },
          { type: "text", text: "three" }
        ]
      },
      {
        role: "assistant",
        content: [
          { type: "text", text: "a" },
          { type: "text", text: "no" },
          { type: "text", text: "b" }
        ]
      }
    ])
  })

  it("translates a parallel tool-call round trip: tool_use blocks, then one user turn of results, then text", () => {
    const body = translate({
      messages: [
        { role: "user", content: "Weather in Paris and Tokyo?" },
        {
          role: "assistant",
          content: "",
          tool_calls: [
            { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
            { id: "call_2", type: "function", function: { name: "get_weather", arguments: '{"city": "Tokyo"}' } },
            { id: "call_3", type: "function", function: { name: "get_time", arguments: "" } }
          ]
        },
        { role: "tool", tool_call_id: "call_1", content: "18°C, cloudy" },
        { role: "tool", tool_call_id: "call_2", content: [{ type: "text", text: "24°C, sunny" }] },
        { role: "tool", tool_call_id: "call_3", content: "" },
        { role: "user", content: "Thanks, and tomorrow?" }
      ]
    })
    expect(body.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "Weather in Paris and Tokyo?" }] },
      {
        role: "assistant",
        content: [
          { type: "tool_use", id: "call_1", name: "get_weather", input: { city: "Paris" } },
          { type: "tool_use", id: "call_2", name: "get_weather", input: { city: "Tokyo" } },
          { type: "tool_use", id: "call_3", name: "get_time", input: {} }
        ]
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "call_1", content: "18°C, cloudy" },
          { type: "tool_result", tool_use_id: "call_2", content: [{ type: "text", text: "24°C, sunny" }] },
          { type: "tool_result", tool_use_id: "call_3" },
          { type: "text", text: "Thanks, and tomorrow?" }
        ]
      }
    ])
  })

  it("keeps assistant text before its tool calls, and tool-call ids Anthropic accepts", () => {
    const body = translate({
      messages: [
        { role: "user", content: "Go" },
        {
          role: "assistant",
          content: "Let me check.",
          tool_calls: [{ id: "functions.lookup:0", type: "function", function: { name: "lookup", arguments: "{}" } }]
        },
        { role: "tool", tool_call_id: "functions.lookup:0", content: "ok" }
      ]
    })
    expect(body.messages[1]).toEqual({
      role: "assistant",
      content: [
        { type: "text", text: "Let me check." },
        { type: "tool_use", id: "functions_lookup_0", name: "lookup", input: {} }
      ]
    })
    expect(body.messages[2]).toEqual({
      role: "user",
      content: [{ type: "tool_result", tool_use_id: "functions_lookup_0", content: "ok" }]
    })
  })

  it("refuses tool arguments that are not a JSON object, naming the field", () => {
    const call = (args: string) => ({
      messages: [
        { role: "user", content: "Go" },
        { role: "assistant", tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: args } }] }
      ]
    })
    const invalid = refused(call('{"city": "Par'))
    expect(invalid.field).toBe("messages.1.tool_calls.0.function.arguments")
    expect(invalid.message).toMatch(/valid JSON/)
    expect(refused(call("[1,2]")).message).toMatch(/JSON object/)
    expect(refused(call("42")).field).toBe("messages.1.tool_calls.0.function.arguments")
  })

  it("sends images: data URLs as base64 sources, http(s) URLs as URL sources", () => {
    const body = translate({
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "Compare" },
            { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=", detail: "high" } },
            { type: "image_url", image_url: { url: "data:image/jpg;base64,/9j/4AAQ" } },
            { type: "image_url", image_url: { url: "https://example.com/cat.webp" } }
          ]
        }
      ]
    })
    expect(body.messages[0]?.content).toEqual([
      { type: "text", text: "Compare" },
      { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
      { type: "image", source: { type: "base64", media_type: "image/jpeg", data: "/9j/4AAQ" } },
      { type: "image", source: { type: "url", url: "https://example.com/cat.webp" } }
    ])
  })

  it("refuses images Anthropic cannot read", () => {
    const image = (url: string) => ({
      messages: [{ role: "user", content: [{ type: "image_url", image_url: { url } }] }]
    })
    expect(refused(image("data:image/svg+xml;base64,PHN2Zz4="))).toMatchObject({
      field: "messages.0.content.0.image_url.url",
      message: expect.stringMatching(/JPEG, PNG, GIF or WebP/)
    })
    expect(refused(image("data:image/png,rawbytes")).message).toMatch(/base64/)
    expect(refused(image("ftp://example.com/a.png")).message).toMatch(/http\(s\) URL or a base64 data: URL/)
  })

  it("sends an inline PDF file part as a document, and refuses file ids and audio", () => {
    const body = translate({
      messages: [
        {
          role: "user",
          content: [
            { type: "file", file: { file_data: "data:application/pdf;base64,JVBERi0=", filename: "a.pdf" } },
            { type: "file", file: { file_data: "JVBERi0x" } }
          ]
        }
      ]
    })
    expect(body.messages[0]?.content).toEqual([
      { type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBERi0=" }, title: "a.pdf" },
      { type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBERi0x" } }
    ])
    expect(
      refused({ messages: [{ role: "user", content: [{ type: "file", file: { file_id: "file-abc" } }] }] }).field
    ).toBe("messages.0.content.0.file")
    expect(
      refused({
        messages: [{ role: "user", content: [{ type: "file", file: { file_data: "data:text/plain;base64,aGk=" } }] }]
      }).field
    ).toBe("messages.0.content.0.file.file_data")
    expect(
      refused({
        messages: [
          { role: "user", content: [{ type: "input_audio", input_audio: { data: "UklGRg==", format: "wav" } }] }
        ]
      })
    ).toMatchObject({ field: "messages.0.content.0", message: expect.stringMatching(/audio/) })
  })

  it("refuses a conversation with nothing for Anthropic to answer", () => {
    expect(refused({ messages: [{ role: "system", content: "Be nice." }] }).field).toBe("messages")
    expect(refused({ messages: [{ role: "user", content: "" }] }).field).toBe("messages")
  })
})

describe("toAnthropicRequest: tools", () => {
  const weather = {
    type: "function",
    function: {
      name: "get_weather",
      description: "Current weather for a city",
      parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
      strict: true
    }
  }
  const ping = { type: "function", function: { name: "ping" } }

  it("sends function tools with their parameters as input_schema (strict dropped, empty schema when none)", () => {
    expect(translate({ messages: hello, tools: [weather, ping] }).tools).toEqual([
      {
        name: "get_weather",
        description: "Current weather for a city",
        input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
      },
      { name: "ping", input_schema: { type: "object", properties: {} } }
    ])
  })

  it("maps each tool_choice", () => {
    const choice = (tool_choice: unknown, extra: Record<string, unknown> = {}) =>
      translate({ messages: hello, tools: [weather], tool_choice, ...extra }).tool_choice
    expect(choice("auto")).toEqual({ type: "auto" })
    expect(choice("required")).toEqual({ type: "any" })
    expect(choice("none")).toEqual({ type: "none" })
    expect(choice({ type: "function", function: { name: "get_weather" } })).toEqual({
      type: "tool",
      name: "get_weather"
    })
    expect(choice(null)).toBeUndefined()
  })

  it("sends parallel_tool_calls: false as disable_parallel_tool_use on the choice", () => {
    const choice = (tool_choice: unknown) =>
      translate({
        messages: hello,
        tools: [weather],
        parallel_tool_calls: false,
        ...(tool_choice === undefined ? {} : { tool_choice })
      }).tool_choice
    expect(choice(undefined)).toEqual({ type: "auto", disable_parallel_tool_use: true })
    expect(choice("auto")).toEqual({ type: "auto", disable_parallel_tool_use: true })
    expect(choice("required")).toEqual({ type: "any", disable_parallel_tool_use: true })
    expect(choice({ type: "function", function: { name: "get_weather" } })).toEqual({
      type: "tool",
      name: "get_weather",
      disable_parallel_tool_use: true
    })
    expect(choice("none")).toEqual({ type: "none" })
  })

  it("leaves tools and tool_choice out when there are no tools", () => {
    const body = translate({ messages: hello, tools: [], tool_choice: "auto", parallel_tool_calls: false })
    expect(body).not.toHaveProperty("tools")
    expect(body).not.toHaveProperty("tool_choice")
  })
})

describe("toAnthropicRequest: response_format", () => {
  it("sends a JSON schema as structured output", () => {
    const schema = { type: "object", properties: { answer: { type: "string" } }, required: ["answer"] }
    const body = translate({
      messages: hello,
      response_format: { type: "json_schema", json_schema: { name: "reply", schema, strict: true } }
    })
    expect(body.output_config).toEqual({ format: { type: "json_schema", schema } })
  })

  it("refuses json_object and a json_schema without a schema", () => {
    expect(refused({ messages: hello, response_format: { type: "json_object" } }).field).toBe("response_format.type")
    expect(
      refused({ messages: hello, response_format: { type: "json_schema", json_schema: { name: "reply" } } }).field
    ).toBe("response_format.json_schema.schema")
  })
})

describe("toAnthropicRequest: refusals", () => {
  const cases: ReadonlyArray<readonly [string, Record<string, unknown>, string]> = [
    ["n > 1", { n: 2 }, "n"],
    ["logprobs", { logprobs: true, top_logprobs: 3 }, "logprobs"],
    ["logit_bias", { logit_bias: { "50256": -100 } }, "logit_bias"],
    ["audio output", { audio: { voice: "alloy", format: "mp3" } }, "audio"],
    ["audio modality", { modalities: ["text", "audio"] }, "modalities"],
    ["legacy functions", { functions: [{ name: "f" }] }, "functions"],
    ["legacy function_call", { function_call: "auto" }, "function_call"],
    ["web search", { web_search_options: {} }, "web_search_options"]
  ]
  for (const [name, extra, field] of cases) {
    it(`refuses ${name}`, () => {
      const error = refused({ messages: hello, ...extra })
      expect(error.field).toBe(field)
      expect(error.message.length).toBeGreaterThan(10)
    })
  }

  it("accepts n: 1 and logprobs: false", () => {
    expect(translate({ messages: hello, n: 1, logprobs: false })).not.toHaveProperty("n")
  })

  it("refuses legacy function messages and assistant function_call", () => {
    expect(
      refused({
        messages: [
          { role: "user", content: "Go" },
          { role: "assistant", content: null, function_call: { name: "f", arguments: "{}" } },
          { role: "function", name: "f", content: "done" }
        ]
      }).field
    ).toBe("messages.1.function_call")
    expect(
      refused({
        messages: [
          { role: "user", content: "Go" },
          { role: "function", name: "f", content: "done" }
        ]
      }).field
    ).toBe("messages.1.role")
  })

  it("never repeats the client's value in its message", () => {
    const error = refused({
      messages: [
        { role: "user", content: [{ type: "image_url", image_url: { url: "data:image/tiff;base64,SECRET" } }] }
      ]
    })
    expect(error.message).not.toContain("SECRET")
    expect(error.message).not.toContain("tiff")
  })
})
