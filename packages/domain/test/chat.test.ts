import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import fc from "fast-check"
import {
  type ChatCompletionRequest,
  decodeChatCompletionRequest,
  MAX_REQUEST_NESTING,
  normalizeChatCompletionRequest
} from "../src/chat/ChatCompletionRequest.js"
import type { FieldError } from "../src/FieldError.js"

const user = { role: "user", content: "Hello!" }
const base = { model: "gpt-4o", messages: [user] }

const accept = (input: unknown): ChatCompletionRequest => {
  const result = decodeChatCompletionRequest(input)
  if (Either.isLeft(result)) throw new Error(`expected a valid request, got ${JSON.stringify(result.left)}`)
  return result.right
}

const reject = (input: unknown): ReadonlyArray<FieldError> => {
  const result = decodeChatCompletionRequest(input)
  if (Either.isRight(result)) throw new Error("expected field errors, got a valid request")
  return result.left
}

const fields = (input: unknown): ReadonlyArray<string> => reject(input).map((e) => e.field)

describe("chat completion request: valid requests from the OpenAI API reference", () => {
  it("accepts the minimal request and every message role", () => {
    accept(base)
    accept({
      model: "gpt-4o",
      messages: [
        { role: "system", content: "You are a helpful assistant.", name: "sys" },
        { role: "developer", content: [{ type: "text", text: "Answer in French." }] },
        { role: "user", content: "What's the weather like in Paris today?", name: "alice" },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            { id: "call_abc123", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }
          ]
        },
        { role: "tool", tool_call_id: "call_abc123", content: '{"temp": 18}' },
        { role: "assistant", content: "It is 18 degrees.", name: "bot", refusal: null },
        { role: "assistant", content: null, function_call: { name: "get_weather", arguments: "{}" } },
        { role: "function", name: "get_weather", content: '{"temp": 18}' },
        { role: "function", name: "get_weather", content: null },
        {
          role: "assistant",
          content: [
            { type: "text", text: "a" },
            { type: "refusal", refusal: "no" }
          ]
        }
      ]
    })
  })

  it("accepts every user content part", () => {
    const request = accept({
      model: "gpt-4o",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "What's in this image?" },
            { type: "image_url", image_url: { url: "https://example.com/cat.jpg", detail: "high" } },
            { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } },
            { type: "input_audio", input_audio: { data: "UklGRg==", format: "wav" } },
            { type: "file", file: { file_id: "file-abc123" } },
            { type: "file", file: { file_data: "JVBERi0=", filename: "doc.pdf" } }
          ]
        }
      ]
    })
    const content = request.messages[0]?.content
    expect(Array.isArray(content) && content.length).toBe(6)
  })

  it("accepts tools with tool_choice, in every tool_choice spelling", () => {
    const tools = [
      {
        type: "function",
        function: {
          name: "get_current_weather",
          description: "Get the current weather in a given location",
          parameters: {
            type: "object",
            properties: { location: { type: "string" }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } },
            required: ["location"]
          },
          strict: true
        }
      },
      { type: "function", function: { name: "no_params-2" } }
    ]
    for (const tool_choice of ["none", "auto", "required", { type: "function", function: { name: "get_weather" } }]) {
      accept({ ...base, tools, tool_choice, parallel_tool_calls: false })
    }
  })

  it("accepts stream with stream_options, response_format json_schema and logit_bias", () => {
    accept({ ...base, stream: true, stream_options: { include_usage: true } })
    accept({
      ...base,
      response_format: {
        type: "json_schema",
        json_schema: {
          name: "math_response",
          description: "steps",
          schema: { type: "object", properties: { steps: { type: "array" } } },
          strict: true
        }
      }
    })
    accept({ ...base, response_format: { type: "json_object" } })
    accept({ ...base, response_format: { type: "text" } })
    accept({ ...base, logit_bias: { "2435": -100, "640": 100, "50256": 0.5 } })
  })

  it("accepts every documented parameter at its range limits, and null where OpenAI allows it", () => {
    accept({
      ...base,
      temperature: 2,
      top_p: 0,
      n: 128,
      max_tokens: 1,
      max_completion_tokens: 4096,
      presence_penalty: -2,
      frequency_penalty: 2,
      logprobs: true,
      top_logprobs: 20,
      stop: ["a", "b", "c", "d"],
      seed: JSON.parse("9223372036854775807"),
      user: "user-1234",
      stream: false,
      store: true,
      service_tier: "auto",
      metadata: { project: "x" },
      modalities: ["text", "audio"],
      reasoning_effort: "minimal",
      audio: { voice: "alloy", format: "wav" },
      prediction: { type: "content", content: "x" },
      web_search_options: {},
      functions: [{ name: "f", parameters: { type: "object" } }],
      function_call: { name: "f" }
    })
    accept({
      ...base,
      temperature: null,
      top_p: null,
      n: null,
      max_tokens: null,
      presence_penalty: null,
      frequency_penalty: null,
      logit_bias: null,
      logprobs: null,
      top_logprobs: null,
      stop: null,
      seed: null,
      stream: null,
      stream_options: null,
      response_format: null,
      reasoning_effort: null,
      metadata: null,
      modalities: null,
      audio: null
    })
    accept({ ...base, stop: "\n", function_call: "auto" })
  })
})

describe("chat completion request: unknown fields are kept for forwarding", () => {
  it("keeps unknown fields at the top level and inside messages and content parts", () => {
    const request = accept({
      ...base,
      provider_specific: { cache: true },
      messages: [
        {
          role: "user",
          content: [{ type: "text", text: "hi", cache_control: { type: "ephemeral" } }],
          x_trace: "t-1"
        }
      ]
    })
    const raw: Record<string, unknown> = { ...request }
    expect(raw.provider_specific).toEqual({ cache: true })
    expect(request.messages[0]).toMatchObject({ x_trace: "t-1" })
    expect(JSON.parse(JSON.stringify(request))).toMatchObject({
      messages: [{ content: [{ cache_control: { type: "ephemeral" } }] }]
    })
  })

  it("returns the validated body itself, not a copy", () => {
    const body = { ...base, extra: [1, 2] }
    expect(accept(body)).toBe(body)
  })

  it("refuses a __proto__ key, which would otherwise smuggle unvalidated fields in", () => {
    const body = JSON.parse(`{"model":"m","messages":[{"role":"user","content":"x"}],"__proto__":{"stream":"yes"}}`)
    expect(reject(body)).toEqual([expect.objectContaining({ field: "body" })])
    const nested = JSON.parse(`{"model":"m","messages":[{"role":"user","content":"x","__proto__":{"name":5}}]}`)
    expect(fields(nested)).toEqual(["body"])
  })

  it("refuses a body nested deeper than MAX_REQUEST_NESTING anywhere (5,000 levels parse from 10 KB), accepts one at the bound", () => {
    const nestedIn = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`
    // The body is level 1, `extra`'s array level 2: MAX_REQUEST_NESTING - 1 arrays reach the bound.
    const at = JSON.parse(
      `{"model":"m","messages":[{"role":"user","content":"x"}],"extra":${nestedIn(MAX_REQUEST_NESTING - 1)}}`
    )
    expect(Either.isRight(decodeChatCompletionRequest(at))).toBe(true)
    const over = JSON.parse(
      `{"model":"m","messages":[{"role":"user","content":"x"}],"extra":${nestedIn(MAX_REQUEST_NESTING)}}`
    )
    expect(reject(over)).toEqual([
      expect.objectContaining({ field: "body", message: expect.stringContaining("nested deeper") })
    ])
    const inTools = JSON.parse(
      `{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"a":${nestedIn(5_000)}}}}]}`
    )
    expect(fields(inTools)).toEqual(["body"])
  })

  it("finds a __proto__ key past the first thousand objects, and ends on an in-process cycle", () => {
    const many = Array.from({ length: 3_000 }, (_, i) => ({ i }))
    const deepInside = JSON.parse(
      JSON.stringify({ ...base, extra: many }).replace('{"i":0}', '{"i":0,"__proto__":{"stream":"yes"}}')
    )
    expect(fields(deepInside)).toEqual(["body"])
    expect(Either.isRight(decodeChatCompletionRequest({ ...base, extra: many }))).toBe(true)
    const cyclic: Record<string, unknown> = { ...base }
    cyclic.self = cyclic
    expect(Either.isRight(decodeChatCompletionRequest(cyclic))).toBe(true)
    const cyclicWithKey: Record<string, unknown> = { ...base, hidden: JSON.parse(`{"__proto__":{}}`) }
    cyclicWithKey.self = { back: cyclicWithKey }
    expect(fields(cyclicWithKey)).toEqual(["body"])
  })
})

describe("chat completion request: malformed fields give field errors at the right path", () => {
  const cases: ReadonlyArray<readonly [string, unknown, string]> = [
    ["wrong role", { ...base, messages: [user, { role: "robot", content: "x" }] }, "messages.1.role"],
    ["missing role", { ...base, messages: [{ content: "x" }] }, "messages.0.role"],
    ["missing content", { ...base, messages: [{ role: "user" }] }, "messages.0.content"],
    ["assistant with null content and no calls", { ...base, messages: [{ role: "assistant" }] }, "messages.0.content"],
    ["content not string or parts", { ...base, messages: [{ role: "system", content: 7 }] }, "messages.0.content"],
    [
      "image part in a system message",
      { ...base, messages: [{ role: "system", content: [{ type: "image_url", image_url: { url: "u" } }] }] },
      "messages.0.content.0.type"
    ],
    [
      "bad image detail",
      { ...base, messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "u", detail: "x" } }] }] },
      "messages.0.content.0.image_url.detail"
    ],
    [
      "bad audio format",
      {
        ...base,
        messages: [{ role: "user", content: [{ type: "input_audio", input_audio: { data: "", format: "ogg" } }] }]
      },
      "messages.0.content.0.input_audio.format"
    ],
    ["temperature 3", { ...base, temperature: 3 }, "temperature"],
    ["top_p -1", { ...base, top_p: -1 }, "top_p"],
    ["n 0", { ...base, n: 0 }, "n"],
    ["n 1.5", { ...base, n: 1.5 }, "n"],
    ["max_tokens 0", { ...base, max_tokens: 0 }, "max_tokens"],
    ["presence_penalty 2.5", { ...base, presence_penalty: 2.5 }, "presence_penalty"],
    ["logit_bias out of range", { ...base, logit_bias: { "1": 101 } }, "logit_bias"],
    ["top_logprobs 21", { ...base, logprobs: true, top_logprobs: 21 }, "top_logprobs"],
    ["stop with 5 entries", { ...base, stop: ["a", "b", "c", "d", "e"] }, "stop"],
    [
      "bad tool name",
      { ...base, tools: [{ type: "function", function: { name: "get weather!" } }] },
      "tools.0.function.name"
    ],
    [
      "tool name too long",
      { ...base, tools: [{ type: "function", function: { name: "a".repeat(65) } }] },
      "tools.0.function.name"
    ],
    ["tool of unknown type", { ...base, tools: [{ type: "retrieval", function: { name: "f" } }] }, "tools.0.type"],
    ["bad tool_choice", { ...base, tool_choice: "always" }, "tool_choice"],
    ["tool_choice without function", { ...base, tool_choice: { type: "function" } }, "tool_choice.function"],
    [
      "tool message without tool_call_id",
      { ...base, messages: [{ role: "tool", content: "x" }] },
      "messages.0.tool_call_id"
    ],
    ["function message without name", { ...base, messages: [{ role: "function", content: "x" }] }, "messages.0.name"],
    ["stream_options without stream", { ...base, stream_options: { include_usage: true } }, "stream_options"],
    ["stream_options with stream false", { ...base, stream: false, stream_options: {} }, "stream_options"],
    ["top_logprobs without logprobs", { ...base, top_logprobs: 2 }, "top_logprobs"],
    ["response_format of unknown type", { ...base, response_format: { type: "yaml" } }, "response_format.type"],
    [
      "json_schema with a bad name",
      { ...base, response_format: { type: "json_schema", json_schema: { name: "a b" } } },
      "response_format.json_schema.name"
    ],
    ["reasoning_effort unknown", { ...base, reasoning_effort: "max" }, "reasoning_effort"],
    ["modalities unknown", { ...base, modalities: ["video"] }, "modalities.0"],
    ["metadata value not a string", { ...base, metadata: { a: 1 } }, "metadata"],
    ["seed not an integer", { ...base, seed: 0.5 }, "seed"],
    ["stream not a boolean", { ...base, stream: "true" }, "stream"],
    ["messages empty", { ...base, messages: [] }, "messages"],
    ["messages not an array", { ...base, messages: "hi" }, "messages"],
    ["message not an object", { ...base, messages: [user, "hi"] }, "messages.1"],
    ["model missing", { messages: [user] }, "model"],
    ["model empty", { ...base, model: "" }, "model"],
    ["body an array", [base], "body"],
    ["body a string", "hello", "body"],
    ["body null", null, "body"]
  ]

  for (const [name, input, field] of cases) {
    it(`${name} -> ${field}`, () => {
      const errors = reject(input)
      expect(errors.map((e) => e.field)).toEqual([field])
      expect(errors[0]?.message).toMatch(/^(must|is) /)
    })
  }

  it("returns every field error at once, in one list", () => {
    const errors = fields({
      messages: [{ role: "robot" }, { role: "user" }, { role: "tool", content: "x" }],
      temperature: 3,
      top_p: -1,
      n: 0,
      stop: ["a", "b", "c", "d", "e"],
      tools: [{ type: "function", function: { name: "bad name" } }],
      stream_options: { include_usage: true }
    })
    expect([...errors].sort()).toEqual(
      [
        "model",
        "messages.0.role",
        "messages.1.content",
        "messages.2.tool_call_id",
        "temperature",
        "top_p",
        "n",
        "stop",
        "tools.0.function.name",
        "stream_options"
      ].sort()
    )
  })

  it("reports one message per field, saying what was expected", () => {
    expect(reject({ ...base, temperature: "hot" })).toEqual([
      expect.objectContaining({ field: "temperature", message: "must be a number between 0 and 2, or null" })
    ])
    expect(reject({ ...base, messages: [{ role: "robot", content: "x" }] })[0]?.message).toBe(
      'must be one of "system", "developer", "user", "assistant", "tool", "function"'
    )
    expect(reject({ ...base, model: undefined })[0]?.message).toBe("must be a non-empty string")
    expect(reject({ messages: [user] })[0]?.message).toBe("is required")
  })

  it("never echoes the client's value in a message", () => {
    const marker = "ZQXJMARKER7731"
    const bad = [
      { ...base, temperature: marker },
      { ...base, n: marker },
      { ...base, model: { marker } },
      { ...base, stop: [marker, marker, marker, marker, marker] },
      { ...base, messages: [{ role: marker, content: marker }] },
      { ...base, messages: [{ role: "user", content: [{ type: marker }] }] },
      {
        ...base,
        messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "u", detail: marker } }] }]
      },
      { ...base, tools: [{ type: "function", function: { name: marker.repeat(10) } }] },
      { ...base, tool_choice: marker },
      { ...base, reasoning_effort: marker },
      { ...base, logit_bias: { [marker]: marker } },
      { ...base, metadata: { [marker]: 1 } },
      { ...base, response_format: { type: marker } },
      { ...base, modalities: [marker] },
      marker
    ]
    for (const input of bad) {
      const errors = reject(input)
      expect(errors.length).toBeGreaterThan(0)
      for (const e of errors) {
        expect(e.message).not.toContain(marker)
        expect(e.field).not.toContain(marker)
      }
    }
  })

  it("does not throw on discriminators that cannot be turned into strings", () => {
    const poison = JSON.parse('{"toString":1,"valueOf":1}')
    expect(fields({ ...base, messages: [{ role: poison, content: "x" }] })).toEqual(["messages.0.role"])
    expect(fields({ ...base, tool_choice: { type: poison } })).toEqual(["tool_choice.type"])
    expect(fields({ ...base, response_format: { type: poison } })).toEqual(["response_format.type"])
    expect(fields({ ...base, messages: [{ role: "user", content: [{ type: poison }] }] })).toEqual([
      "messages.0.content.0.type"
    ])
    expect(fields({ ...base, messages: [{ role: "user", content: [Object.create(null)] }] })).toEqual([
      "messages.0.content.0.type"
    ])
  })
})

describe("chat completion request: normalisation", () => {
  it("spells stop as a list and stream as a boolean, and changes nothing else", () => {
    const request = accept({ ...base, stop: "x", extra: 1, messages: [{ role: "user", content: " hi " }] })
    const normalized = normalizeChatCompletionRequest(request)
    expect(normalized.stop).toEqual(["x"])
    expect(normalized.stream).toBe(false)
    expect(normalized.messages[0]?.content).toBe(" hi ")
    expect({ ...normalized }).toMatchObject({ extra: 1 })
    expect(normalizeChatCompletionRequest(accept({ ...base, stream: true, stop: ["a", "b"] }))).toMatchObject({
      stream: true,
      stop: ["a", "b"]
    })
    expect("stop" in normalizeChatCompletionRequest(accept({ ...base, stop: null }))).toBe(false)
    expect(normalizeChatCompletionRequest(accept({ ...base, stream: null })).stream).toBe(false)
  })
})

describe("chat completion request: totality", () => {
  const wellFormed = (errors: ReadonlyArray<FieldError>) => {
    expect(errors.length).toBeGreaterThan(0)
    for (const e of errors) {
      expect(e.field.length).toBeGreaterThan(0)
      expect(e.message.length).toBeGreaterThan(0)
    }
  }

  const check = (input: unknown) => {
    const result = decodeChatCompletionRequest(input)
    if (Either.isLeft(result)) wellFormed(result.left)
  }

  it("is total on fc.anything()", () => {
    fc.assert(fc.property(fc.anything(), check), { numRuns: 2000 })
  })

  it("is total on fc.jsonValue()", () => {
    fc.assert(fc.property(fc.jsonValue(), check), { numRuns: 2000 })
  })

  /** Request-shaped junk, so the property reaches the message and parameter schemas. */
  const junk = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.anything({ maxDepth: 2 }))
  const message = fc.record(
    {
      role: fc.oneof(fc.constantFrom("system", "developer", "user", "assistant", "tool", "function"), junk),
      content: fc.oneof(
        fc.string(),
        fc.array(
          fc.record(
            {
              type: fc.oneof(fc.constantFrom("text", "image_url", "input_audio", "file", "refusal"), junk),
              text: junk,
              image_url: junk
            },
            { requiredKeys: ["type"] }
          )
        ),
        junk
      ),
      tool_calls: junk,
      tool_call_id: junk,
      name: junk
    },
    { requiredKeys: ["role"] }
  )
  const requestish = fc.record(
    {
      model: fc.oneof(fc.string(), junk),
      messages: fc.oneof(fc.array(message, { maxLength: 4 }), junk),
      temperature: junk,
      n: junk,
      stop: junk,
      tools: fc.oneof(fc.array(fc.record({ type: junk, function: junk })), junk),
      tool_choice: junk,
      response_format: fc.oneof(fc.record({ type: junk, json_schema: junk }), junk),
      stream: junk,
      stream_options: junk,
      logit_bias: junk
    },
    { requiredKeys: [] }
  )

  it("is total on request-shaped junk", () => {
    fc.assert(fc.property(requestish, check), { numRuns: 2000 })
  })

  it("never echoes any client string, on request-shaped junk", () => {
    // Mark every string the client sends (keys and values); no field or message may contain the mark.
    const mark = "\u2603"
    const marked = (value: unknown): unknown => {
      if (typeof value === "string") return `${mark}${value}`
      if (Array.isArray(value)) return value.map(marked)
      if (typeof value === "object" && value !== null) {
        return Object.fromEntries(
          Object.entries(value).map(([k, v]) => [k in knownKeys ? k : `${mark}${k}`, marked(v)])
        )
      }
      return value
    }
    fc.assert(
      fc.property(requestish, (input) => {
        const result = decodeChatCompletionRequest(marked(input))
        if (Either.isLeft(result)) {
          for (const e of result.left) {
            expect(e.field).not.toContain(mark)
            expect(e.message).not.toContain(mark)
          }
        }
      }),
      { numRuns: 1000 }
    )
  })

  it("does not throw on a body nested 10,000 levels deep, wherever the nesting is (it is refused)", () => {
    let deep: unknown = {}
    let deepArray: unknown = []
    for (let i = 0; i < 10_000; i++) {
      deep = { a: deep }
      deepArray = [deepArray]
    }
    check(deep)
    check(deepArray)
    // Total, and refused: past MAX_REQUEST_NESTING, whatever field holds the nesting.
    expect(fields({ ...base, extra: deep })).toEqual(["body"])
    check({ ...base, messages: deepArray })
    check({ ...base, messages: [{ role: "user", content: deepArray }] })
    check({ ...base, messages: [{ role: "user", content: deep }] })
    check({ ...base, tools: [{ type: "function", function: { name: "f", parameters: deep } }] })
    check({ ...base, logit_bias: deep, metadata: deep, stop: deepArray })
    check(JSON.parse(`${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}`))
  })

  it("handles huge and non-finite numbers and exotic values", () => {
    for (const v of [1e308, -1e308, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 80, -0, Number.MIN_VALUE]) {
      check({ ...base, temperature: v, n: v, top_p: v, max_tokens: v, seed: v, logit_bias: { "1": v } })
    }
    expect(fields({ ...base, temperature: Number.NaN })).toEqual(["temperature"])
    expect(fields({ ...base, n: 2 ** 80 })).toEqual(["n"])
    for (const v of [undefined, 0n, Symbol("s"), () => 1, new Date(0), new Map(), Object.create(null)]) {
      check(v)
      check({ ...base, temperature: v, messages: [v] })
    }
    const cyclic: Record<string, unknown> = { ...base }
    cyclic.self = cyclic
    expect(Either.isRight(decodeChatCompletionRequest(cyclic))).toBe(true)
    const throwing = new Proxy(
      {},
      {
        ownKeys: () => {
          throw new Error("boom")
        }
      }
    )
    expect(fields(throwing)).toEqual(["body"])
  })
})

const knownKeys: Record<string, true> = Object.fromEntries(
  [
    "model",
    "messages",
    "role",
    "content",
    "type",
    "text",
    "image_url",
    "url",
    "detail",
    "tool_calls",
    "tool_call_id",
    "name",
    "function",
    "temperature",
    "n",
    "stop",
    "tools",
    "tool_choice",
    "response_format",
    "json_schema",
    "stream",
    "stream_options",
    "logit_bias"
  ].map((k) => [k, true as const])
)
