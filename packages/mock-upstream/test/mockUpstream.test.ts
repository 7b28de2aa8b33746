import OpenAI from "openai"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { type MockUpstream, type RecordedRequest, startMockUpstream } from "../src/index.js"
import { json, parseFrames, readFrames, within } from "./sse.js"

let mock: MockUpstream
beforeAll(async () => {
  mock = await startMockUpstream()
})
afterAll(() => mock.close())
beforeEach(() => mock.reset())

const post = (path: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal) =>
  fetch(`${mock.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...(signal ? { signal } : {})
  })

const anthropicHeaders = { "anthropic-version": "2023-06-01" }
const chat = (model: string, content: string, extra: Record<string, unknown> = {}) => ({
  model,
  messages: [{ role: "user", content }],
  ...extra
})
const message = (model: string, content: unknown, extra: Record<string, unknown> = {}) => ({
  model,
  max_tokens: 256,
  messages: [{ role: "user", content }],
  ...extra
})
const bodyHas =
  (text: string) =>
  (r: RecordedRequest): boolean =>
    JSON.stringify(r.body ?? "").includes(text)

// 44 characters → ceil(44 / 4) = 11 prompt tokens; the reply has 3 + 8 = 11 words.
const hello = "Hello there friend, how are you doing today?"
const helloReply = `Mock reply to: ${hello}`

const openai = () => new OpenAI({ apiKey: "sk-test", baseURL: `${mock.url}/v1`, maxRetries: 0 })

describe("OpenAI dialect", () => {
  it("answers a chat.completion with deterministic text, ids and usage, and records the request", async () => {
    const res = await post("/v1/chat/completions", chat("gpt-test", hello), { "X-Custom-Header": "Yes" })
    expect(res.status).toBe(200)
    const body = (await res.json()) as Record<string, unknown>
    const [recorded] = mock.requests
    const n = recorded?.id
    expect(res.headers.get("x-request-id")).toBe(`req_mock_${n}`)
    expect(body).toMatchObject({
      id: `chatcmpl-mock-${n}`,
      object: "chat.completion",
      model: "gpt-test",
      choices: [{ index: 0, message: { role: "assistant", content: helloReply }, finish_reason: "stop" }],
      usage: { prompt_tokens: 11, completion_tokens: 11, total_tokens: 22, prompt_tokens_details: { cached_tokens: 0 } }
    })
    expect(typeof body.created).toBe("number")
    expect(recorded).toMatchObject({
      method: "POST",
      path: "/v1/chat/completions",
      dialect: "openai",
      body: chat("gpt-test", hello)
    })
    expect(recorded?.headers["x-custom-header"]).toBe("Yes")
    expect(recorded?.completedAt).toBeGreaterThanOrEqual(recorded?.receivedAt ?? Number.POSITIVE_INFINITY)
    expect(recorded?.abortedAt).toBeUndefined()
  })

  it("counts system text and text parts, and cuts the reply at max_tokens words", async () => {
    const res = await post("/v1/chat/completions", {
      model: "m",
      max_tokens: 2,
      messages: [
        { role: "system", content: "Be brief." },
        {
          role: "user",
          content: [
            { type: "text", text: "Hi" },
            { type: "image_url", image_url: { url: "x" } }
          ]
        }
      ]
    })
    const body = (await res.json()) as {
      choices: [{ message: { content: string }; finish_reason: string }]
      usage: unknown
    }
    // 9 + 2 characters → 3 prompt tokens; "Mock reply to: Hi" cut to 2 words.
    expect(body.choices[0].message.content).toBe("Mock reply")
    expect(body.choices[0].finish_reason).toBe("length")
    expect(body.usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 })
  })

  it("truncates the echoed user text to 200 characters", async () => {
    const res = await post("/v1/chat/completions", chat("m", `${"a".repeat(250)} tail`))
    const body = (await res.json()) as { choices: [{ message: { content: string } }] }
    expect(body.choices[0].message.content).toBe(`Mock reply to: ${"a".repeat(200)}`)
  })

  it("is parsed by the official SDK, non-streaming", async () => {
    const completion = await openai().chat.completions.create({
      model: "gpt-sdk",
      messages: [{ role: "user", content: hello }]
    })
    expect(completion.choices[0]?.message.content).toBe(helloReply)
    expect(completion.model).toBe("gpt-sdk")
    expect(completion.usage?.total_tokens).toBe(22)
  })

  it("streams chunks the SDK reassembles, with a usage-only last chunk when include_usage is set", async () => {
    const stream = await openai().chat.completions.create({
      model: "gpt-sdk",
      messages: [{ role: "user", content: hello }],
      stream: true,
      stream_options: { include_usage: true }
    })
    const chunks = []
    for await (const chunk of stream) chunks.push(chunk)
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")
    expect(text).toBe(helloReply)
    // role chunk, 4 pieces of up to 3 words, finish chunk, usage chunk.
    expect(chunks).toHaveLength(7)
    expect(chunks[0]?.choices[0]?.delta).toMatchObject({ role: "assistant", content: "" })
    expect(chunks[5]?.choices[0]?.finish_reason).toBe("stop")
    expect(chunks.slice(0, 6).every((c) => c.usage === null)).toBe(true)
    expect(chunks[6]?.choices).toEqual([])
    expect(chunks[6]?.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 11, total_tokens: 22 })
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1)
  })

  it("streams without any usage field when include_usage is not set, ending with [DONE]", async () => {
    const res = await post("/v1/chat/completions", chat("m", hello, { stream: true }))
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8")
    const frames = parseFrames(await res.text())
    expect(frames.at(-1)?.data).toBe("[DONE]")
    const chunks = frames.slice(0, -1).map(json)
    expect(chunks).toHaveLength(6)
    expect(chunks.every((c) => c.object === "chat.completion.chunk" && !("usage" in c))).toBe(true)
  })

  it("calls the first tool when tools are offered, streamed as the SDK reassembles tool calls", async () => {
    const question = "What is the weather in Paris?"
    const tools = [
      { type: "function" as const, function: { name: "get_weather", parameters: { type: "object" } } },
      { type: "function" as const, function: { name: "other", parameters: { type: "object" } } }
    ]
    const stream = openai().chat.completions.stream({
      model: "gpt-tools",
      messages: [{ role: "user", content: question }],
      tools,
      stream_options: { include_usage: true }
    })
    let argumentDeltas = 0
    stream.on("chunk", (chunk) => {
      if (chunk.choices[0]?.delta.tool_calls?.[0]?.function?.arguments) argumentDeltas++
    })
    const final = await stream.finalChatCompletion()
    const n = mock.requests.at(-1)?.id
    const call = final.choices[0]?.message.tool_calls?.[0]
    expect(call).toMatchObject({
      id: `call_mock_${n}`,
      type: "function",
      function: { name: "get_weather", arguments: JSON.stringify({ echo: question }) }
    })
    expect(final.choices[0]?.finish_reason).toBe("tool_calls")
    // 40 characters of arguments in slices of 12.
    expect(argumentDeltas).toBe(4)
    // 29 characters → 8 prompt tokens; the arguments have 6 whitespace-separated words.
    expect(final.usage).toMatchObject({ prompt_tokens: 8, completion_tokens: 6 })
  })

  it("answers a tool call non-streaming, and text when tool_choice is none or a tool result came back", async () => {
    const tools = [{ type: "function", function: { name: "lookup" } }]
    const called = (await (await post("/v1/chat/completions", chat("m", "find x", { tools }))).json()) as {
      choices: [{ message: { content: null; tool_calls: [{ function: { name: string; arguments: string } }] } }]
    }
    expect(called.choices[0].message.content).toBeNull()
    expect(called.choices[0].message.tool_calls[0].function).toEqual({
      name: "lookup",
      arguments: '{"echo":"find x"}'
    })

    const none = (await (
      await post("/v1/chat/completions", chat("m", "find x", { tools, tool_choice: "none" }))
    ).json()) as {
      choices: [{ message: { content: string } }]
    }
    expect(none.choices[0].message.content).toBe("Mock reply to: find x")

    const afterTool = (await (
      await post("/v1/chat/completions", {
        model: "m",
        tools,
        messages: [
          { role: "user", content: "find x" },
          {
            role: "assistant",
            content: null,
            tool_calls: [{ id: "call_1", type: "function", function: { name: "lookup", arguments: "{}" } }]
          },
          { role: "tool", tool_call_id: "call_1", content: "Sunny, 21C" }
        ]
      })
    ).json()) as { choices: [{ message: { content: string }; finish_reason: string }] }
    expect(afterTool.choices[0].message.content).toBe("Mock reply to tool result: Sunny, 21C")
    expect(afterTool.choices[0].finish_reason).toBe("stop")
  })

  it("lists models, including the fault models", async () => {
    const res = await fetch(`${mock.url}/v1/models`)
    const body = (await res.json()) as { object: string; data: Array<{ id: string; object: string }> }
    expect(body.object).toBe("list")
    expect(body.data.map((m) => m.id)).toEqual(expect.arrayContaining(["mock-model", "mock-429", "mock-400"]))
    expect(body.data.every((m) => m.object === "model")).toBe(true)
  })

  it("answers malformed JSON with a 400 and unknown routes with a 404, in OpenAI's shape", async () => {
    const bad = await post("/v1/chat/completions", "{not json")
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error")
    expect(mock.requests.at(-1)?.body).toBe("{not json")

    const missing = await fetch(`${mock.url}/chat/completions`, { method: "POST", body: "{}" })
    expect(missing.status).toBe(404)
    expect(await missing.json()).toEqual({
      error: { message: "Invalid URL (POST /chat/completions)", type: "invalid_request_error", param: null, code: null }
    })

    const noMessages = await post("/v1/chat/completions", { model: "m" })
    expect(noMessages.status).toBe(400)
    expect(((await noMessages.json()) as { error: { param: string } }).error.param).toBe("messages")
  })
})

describe("Azure OpenAI dialect", () => {
  const path = "/openai/deployments/my-deployment/chat/completions"

  it("answers with the deployment as the model and Azure's request id headers", async () => {
    const res = await post(`${path}?api-version=2024-10-21`, { messages: [{ role: "user", content: hello }] })
    expect(res.status).toBe(200)
    const n = mock.requests.at(-1)?.id
    expect(res.headers.get("apim-request-id")).toBe(`req_mock_${n}`)
    expect(res.headers.get("x-request-id")).toBe(`req_mock_${n}`)
    expect(await res.json()).toMatchObject({
      object: "chat.completion",
      model: "my-deployment",
      choices: [{ message: { content: helloReply } }],
      usage: { total_tokens: 22 }
    })
    expect(mock.requests.at(-1)).toMatchObject({ dialect: "azure-openai", query: { "api-version": "2024-10-21" } })
  })

  it("streams like OpenAI", async () => {
    const res = await post(`${path}?api-version=2024-10-21`, {
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: hello }]
    })
    const frames = parseFrames(await res.text())
    const chunks = frames.slice(0, -1).map(json) as Array<{
      model: string
      choices: Array<{ delta: { content?: string } }>
    }>
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe(helloReply)
    expect(chunks.every((c) => c.model === "my-deployment")).toBe(true)
    expect(frames.at(-1)?.data).toBe("[DONE]")
  })

  it("answers a missing api-version with Azure's 404", async () => {
    const res = await post(path, { messages: [{ role: "user", content: "x" }] })
    expect(res.status).toBe(404)
    expect(await res.json()).toEqual({ error: { code: "404", message: "Resource not found" } })
  })

  it("takes faults from the deployment name", async () => {
    const res = await post("/openai/deployments/mock-429/chat/completions?api-version=1", {
      messages: [{ role: "user", content: "x" }]
    })
    expect(res.status).toBe(429)
    expect(res.headers.get("retry-after")).toBe("1")
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("429")
  })
})

describe("Anthropic dialect", () => {
  // "Be brief." (9) + "Hello\nworld" (11) → 5 input tokens; the reply has 5 words.
  const blocks = [
    { type: "text", text: "Hello" },
    { type: "text", text: "world" }
  ]

  it("answers a Messages response with usage, stop_reason and request-id", async () => {
    const res = await post("/v1/messages", message("claude-test", blocks, { system: "Be brief." }), anthropicHeaders)
    expect(res.status).toBe(200)
    const n = mock.requests.at(-1)?.id
    expect(res.headers.get("request-id")).toBe(`req_mock_${n}`)
    expect(await res.json()).toEqual({
      id: `msg_mock_${n}`,
      type: "message",
      role: "assistant",
      model: "claude-test",
      content: [{ type: "text", text: "Mock reply to: Hello\nworld" }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: 5, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 }
    })
    expect(mock.requests.at(-1)?.dialect).toBe("anthropic")
  })

  it("streams the real event sequence", async () => {
    const res = await post(
      "/v1/messages",
      message("claude-test", blocks, { system: "Be brief.", stream: true }),
      anthropicHeaders
    )
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8")
    const frames = parseFrames(await res.text())
    expect(frames.map((f) => f.event)).toEqual([
      "message_start",
      "content_block_start",
      "ping",
      "content_block_delta",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop"
    ])
    expect(frames.every((f) => json(f).type === f.event)).toBe(true)
    const start = json(frames[0] as (typeof frames)[0]) as { message: { usage: { input_tokens: number } } }
    expect(start.message.usage.input_tokens).toBe(5)
    const text = frames
      .filter((f) => f.event === "content_block_delta")
      .map((f) => (json(f) as { delta: { type: string; text: string } }).delta)
      .map((d) => (d.type === "text_delta" ? d.text : "?"))
      .join("")
    expect(text).toBe("Mock reply to: Hello\nworld")
    expect(json(frames[6] as (typeof frames)[0])).toEqual({
      type: "message_delta",
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: { output_tokens: 5 }
    })
  })

  it("answers with a tool_use block, streamed as input_json_delta", async () => {
    const tools = [{ name: "get_weather", input_schema: { type: "object" } }]
    const plain = (await (await post("/v1/messages", message("c", "Paris?", { tools }), anthropicHeaders)).json()) as {
      content: unknown
      stop_reason: string
    }
    const n = mock.requests.at(-1)?.id
    expect(plain.content).toEqual([
      { type: "tool_use", id: `toolu_mock_${n}`, name: "get_weather", input: { echo: "Paris?" } }
    ])
    expect(plain.stop_reason).toBe("tool_use")

    const res = await post(
      "/v1/messages",
      message("c", "What is the weather in Paris?", { tools, stream: true }),
      anthropicHeaders
    )
    const frames = parseFrames(await res.text())
    const start = frames.find((f) => f.event === "content_block_start")
    expect((json(start as (typeof frames)[0]) as { content_block: unknown }).content_block).toMatchObject({
      type: "tool_use",
      name: "get_weather",
      input: {}
    })
    const deltas = frames
      .filter((f) => f.event === "content_block_delta")
      .map((f) => (json(f) as { delta: { type: string; partial_json: string } }).delta)
    expect(deltas.length).toBeGreaterThan(1)
    expect(deltas.every((d) => d.type === "input_json_delta")).toBe(true)
    expect(JSON.parse(deltas.map((d) => d.partial_json).join(""))).toEqual({ echo: "What is the weather in Paris?" })
    const delta = frames.find((f) => f.event === "message_delta")
    expect(json(delta as (typeof frames)[0])).toMatchObject({
      delta: { stop_reason: "tool_use" },
      usage: { output_tokens: 6 }
    })
  })

  it("replies to a tool_result with its content, and honours tool_choice none and max_tokens", async () => {
    const tools = [{ name: "lookup", input_schema: { type: "object" } }]
    const afterTool = (await (
      await post(
        "/v1/messages",
        {
          model: "c",
          max_tokens: 100,
          tools,
          messages: [
            { role: "user", content: "find x" },
            { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "lookup", input: {} }] },
            { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "Sunny, 21C" }] }
          ]
        },
        anthropicHeaders
      )
    ).json()) as { content: unknown }
    expect(afterTool.content).toEqual([{ type: "text", text: "Mock reply to tool result: Sunny, 21C" }])

    const none = (await (
      await post("/v1/messages", message("c", "find x", { tools, tool_choice: { type: "none" } }), anthropicHeaders)
    ).json()) as { content: unknown }
    expect(none.content).toEqual([{ type: "text", text: "Mock reply to: find x" }])

    const cut = (await (
      await post("/v1/messages", message("c", "find x", { max_tokens: 3 }), anthropicHeaders)
    ).json()) as {
      content: unknown
      stop_reason: string
      usage: { output_tokens: number }
    }
    expect(cut.content).toEqual([{ type: "text", text: "Mock reply to:" }])
    expect(cut.stop_reason).toBe("max_tokens")
    expect(cut.usage.output_tokens).toBe(3)
  })

  it("requires anthropic-version and max_tokens, and answers errors in Anthropic's shape", async () => {
    const noVersion = await post("/v1/messages", message("c", "x"))
    expect(noVersion.status).toBe(400)
    expect(await noVersion.json()).toMatchObject({
      type: "error",
      error: { type: "invalid_request_error", message: "anthropic-version: header is required" }
    })

    const noMax = await post(
      "/v1/messages",
      { model: "c", messages: [{ role: "user", content: "x" }] },
      anthropicHeaders
    )
    expect(noMax.status).toBe(400)
    expect(((await noMax.json()) as { error: { message: string } }).error.message).toBe("max_tokens: Field required")

    const bad = await post("/v1/messages", "{oops", anthropicHeaders)
    expect(bad.status).toBe(400)
    const badBody = (await bad.json()) as { type: string; error: { type: string }; request_id: string }
    expect(badBody.type).toBe("error")
    expect(badBody.error.type).toBe("invalid_request_error")
    expect(badBody.request_id).toBe(`req_mock_${mock.requests.at(-1)?.id}`)

    const unknown = await post("/v1/complete", {}, anthropicHeaders)
    expect(unknown.status).toBe(404)
    expect(((await unknown.json()) as { error: { type: string } }).error.type).toBe("not_found_error")
  })

  it.each([
    ["mock-429", 429, "rate_limit_error"],
    ["mock-500", 500, "api_error"],
    ["mock-504", 504, "timeout_error"],
    ["mock-529", 529, "overloaded_error"],
    ["mock-400", 400, "invalid_request_error"]
  ])("maps %s to %i %s", async (model, status, type) => {
    const res = await post("/v1/messages", message(model, "x"), anthropicHeaders)
    expect(res.status).toBe(status)
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe(type)
  })
})

describe("api key", () => {
  let keyed: MockUpstream
  beforeAll(async () => {
    keyed = await startMockUpstream({ apiKey: "sk-mock" })
  })
  afterAll(() => keyed.close())
  const call = (path: string, headers: Record<string, string>, body: unknown) =>
    fetch(`${keyed.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body)
    })

  it("requires each dialect's own header, answering 401 in its shape", async () => {
    const openaiBody = chat("m", "x")
    const wrong = await call("/v1/chat/completions", { authorization: "Bearer nope" }, openaiBody)
    expect(wrong.status).toBe(401)
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe("invalid_api_key")
    expect((await call("/v1/chat/completions", { authorization: "Bearer sk-mock" }, openaiBody)).status).toBe(200)
    // OpenAI's header does not open Azure.
    const azurePath = "/openai/deployments/d/chat/completions?api-version=1"
    const azureWrong = await call(azurePath, { authorization: "Bearer sk-mock" }, openaiBody)
    expect(azureWrong.status).toBe(401)
    expect(((await azureWrong.json()) as { error: { code: string } }).error.code).toBe("401")
    expect((await call(azurePath, { "api-key": "sk-mock" }, openaiBody)).status).toBe(200)

    const anthropicBody = message("c", "x")
    const anthropicWrong = await call(
      "/v1/messages",
      { ...anthropicHeaders, authorization: "Bearer sk-mock" },
      anthropicBody
    )
    expect(anthropicWrong.status).toBe(401)
    expect(((await anthropicWrong.json()) as { error: { type: string } }).error.type).toBe("authentication_error")
    expect((await call("/v1/messages", { ...anthropicHeaders, "x-api-key": "sk-mock" }, anthropicBody)).status).toBe(
      200
    )
  })
})

describe("queued faults", () => {
  it("apply one per request, in order, ahead of the model name, and clear", async () => {
    mock.enqueueFaults(
      { kind: "status", status: 503, message: "down for a bit" },
      { kind: "status", status: 418, retryAfterSeconds: 7 }
    )
    const first = await post("/v1/chat/completions", chat("m", "x"))
    expect(first.status).toBe(503)
    expect(((await first.json()) as { error: { message: string; type: string } }).error).toMatchObject({
      message: "down for a bit",
      type: "server_error"
    })
    const second = await post("/v1/chat/completions", chat("mock-500", "x"))
    expect(second.status).toBe(418)
    expect(second.headers.get("retry-after")).toBe("7")
    await second.body?.cancel()
    expect((await post("/v1/chat/completions", chat("m", "x"))).status).toBe(200)

    mock.enqueueFaults({ kind: "status", status: 500 })
    mock.clearFaults()
    expect((await post("/v1/chat/completions", chat("m", "x"))).status).toBe(200)
  })

  it("are not consumed by requests refused before they are answered", async () => {
    mock.enqueueFaults({ kind: "status", status: 502 })
    expect((await post("/v1/chat/completions", "{bad")).status).toBe(400)
    expect((await post("/v1/chat/completions", chat("m", "x"))).status).toBe(502)
  })

  it("hang: no headers ever; the client's abort is recorded", async () => {
    mock.enqueueFaults({ kind: "hang" })
    const controller = new AbortController()
    const pending = post("/v1/chat/completions", chat("m", "hang-me"), {}, controller.signal).catch((e: unknown) => e)
    expect(await within(pending, 300)).toBe("timeout")
    const aborted = mock.waitForAbort(bodyHas("hang-me"), 1_000)
    controller.abort()
    const r = await aborted
    expect(r.abortedAt).toBeGreaterThanOrEqual(r.receivedAt)
    expect(r.completedAt).toBeUndefined()
  })

  it("stall: N chunks, then silence with the socket open", async () => {
    mock.enqueueFaults({ kind: "stall", afterChunks: 2 })
    const res = await post("/v1/chat/completions", chat("m", hello, { stream: true }))
    const reading = await readFrames(res, 400)
    expect(reading.outcome).toBe("open")
    expect(reading.frames).toHaveLength(2)
    expect(
      (json(reading.frames[1] as (typeof reading.frames)[0]) as { choices: [{ delta: unknown }] }).choices[0].delta
    ).toEqual({
      content: "Mock reply to: "
    })
  })

  it("drop: before headers the request fails; after N chunks the stream is cut", async () => {
    mock.enqueueFaults({ kind: "drop" }, { kind: "drop", afterChunks: 3 })
    await expect(post("/v1/chat/completions", chat("m", "x"))).rejects.toThrow()
    const res = await post("/v1/chat/completions", chat("m", hello, { stream: true }))
    expect(res.status).toBe(200)
    const reading = await readFrames(res)
    expect(reading.frames).toHaveLength(3)
    expect(reading.outcome).toBe("error")
    // The mock's own cut is not a client abort.
    expect(mock.requests.every((r) => r.abortedAt === undefined)).toBe(true)
  })

  it("slow: chunks arrive the given delay apart", async () => {
    mock.enqueueFaults({ kind: "slow", chunkDelayMs: 60 })
    const started = Date.now()
    const res = await post("/v1/chat/completions", chat("m", hello, { stream: true }))
    const reading = await readFrames(res, 5_000)
    expect(reading.outcome).toBe("end")
    expect(reading.frames).toHaveLength(7)
    // 6 gaps of at least 60 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(6 * 60 - 5)
    const first = reading.frames[0]?.at ?? 0
    expect((reading.frames[1]?.at ?? 0) - first).toBeGreaterThanOrEqual(50)
  })

  it("delay: headers wait the given time", async () => {
    mock.enqueueFaults({ kind: "delay", ms: 200 })
    const started = Date.now()
    const res = await post("/v1/chat/completions", chat("m", "x"))
    expect(Date.now() - started).toBeGreaterThanOrEqual(195)
    expect(res.status).toBe(200)
    expect(((await res.json()) as { choices: [{ message: { content: string } }] }).choices[0].message.content).toBe(
      "Mock reply to: x"
    )
  })

  it("stream-error: OpenAI's error data line, which the SDK throws", async () => {
    mock.enqueueFaults({ kind: "stream-error", afterChunks: 2 })
    const stream = await openai().chat.completions.create({
      model: "m",
      messages: [{ role: "user", content: hello }],
      stream: true
    })
    const seen: string[] = []
    const run = async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? "")
    }
    await expect(run()).rejects.toThrow(/server had an error/)
    expect(seen).toEqual(["", "Mock reply to: "])
  })

  it("stream-error: Anthropic's error event after N events", async () => {
    mock.enqueueFaults({ kind: "stream-error", afterChunks: 3 })
    const res = await post("/v1/messages", message("c", "x", { stream: true }), anthropicHeaders)
    const frames = parseFrames(await res.text())
    expect(frames.map((f) => f.event)).toEqual(["message_start", "content_block_start", "ping", "error"])
    expect(json(frames[3] as (typeof frames)[0])).toEqual({
      type: "error",
      error: { type: "overloaded_error", message: "Overloaded" }
    })
  })
})

describe("model-name faults", () => {
  it.each([
    ["mock-500", 500],
    ["mock-502", 502],
    ["mock-503", 503],
    ["mock-504", 504]
  ])("%s answers %i in OpenAI's shape", async (model, status) => {
    const res = await post("/v1/chat/completions", chat(model, "x"))
    expect(res.status).toBe(status)
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe("server_error")
  })

  it("mock-429 answers 429 with Retry-After: 1", async () => {
    const res = await post("/v1/chat/completions", chat("mock-429", "x"))
    expect(res.status).toBe(429)
    expect(res.headers.get("retry-after")).toBe("1")
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("rate_limit_exceeded")
  })

  it("mock-400 answers OpenAI's context-length error", async () => {
    const res = await post("/v1/chat/completions", chat("mock-400", "x"))
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({
      error: {
        message: "This model's maximum context length is 8 tokens",
        type: "invalid_request_error",
        param: "messages",
        code: "context_length_exceeded"
      }
    })
  })

  it("mock-hang never answers; mock-stall hangs without streaming", async () => {
    for (const model of ["mock-hang", "mock-stall"]) {
      const controller = new AbortController()
      const pending = post("/v1/chat/completions", chat(model, "x"), {}, controller.signal).catch((e: unknown) => e)
      expect(await within(pending, 250)).toBe("timeout")
      controller.abort()
    }
  })

  it("mock-stall streams 2 chunks then goes silent; mock-stall-<n> after n", async () => {
    const two = await readFrames(await post("/v1/chat/completions", chat("mock-stall", hello, { stream: true })), 300)
    expect([two.outcome, two.frames.length]).toEqual(["open", 2])
    const four = await readFrames(
      await post("/v1/messages", message("mock-stall-4", "x", { stream: true }), anthropicHeaders),
      300
    )
    expect([four.outcome, four.frames.map((f) => f.event)]).toEqual([
      "open",
      ["message_start", "content_block_start", "ping", "content_block_delta"]
    ])
  })

  it("mock-drop cuts before headers; mock-drop-<n> after n chunks, or mid-body", async () => {
    await expect(post("/v1/chat/completions", chat("mock-drop", "x"))).rejects.toThrow()
    const streamed = await readFrames(await post("/v1/chat/completions", chat("mock-drop-2", hello, { stream: true })))
    expect([streamed.outcome, streamed.frames.length]).toEqual(["error", 2])
    const plain = await post("/v1/chat/completions", chat("mock-drop-2", "x"))
    expect(plain.status).toBe(200)
    await expect(plain.text()).rejects.toThrow()
  })

  it("mock-slow paces at 50 ms; mock-slow-<ms> at that", async () => {
    for (const [model, gap] of [
      ["mock-slow", 50],
      ["mock-slow-30", 30]
    ] as const) {
      const started = Date.now()
      const reading = await readFrames(await post("/v1/chat/completions", chat(model, hello, { stream: true })), 5_000)
      expect(reading.outcome).toBe("end")
      // 6 frames (role, 4 pieces, finish) then [DONE]: 6 gaps.
      expect(Date.now() - started).toBeGreaterThanOrEqual(6 * gap - 5)
    }
  })

  it("mock-delay-<ms> holds the headers that long", async () => {
    const started = Date.now()
    const res = await post("/v1/messages", message("mock-delay-150", "x"), anthropicHeaders)
    expect(Date.now() - started).toBeGreaterThanOrEqual(145)
    expect(res.status).toBe(200)
    expect(((await res.json()) as { model: string }).model).toBe("mock-delay-150")
  })

  it("mock-stream-error streams 2 chunks then the error; non-streaming it is a 500", async () => {
    const res = await post("/v1/chat/completions", chat("mock-stream-error", hello, { stream: true }))
    const frames = parseFrames(await res.text())
    expect(frames).toHaveLength(3)
    expect(json(frames[2] as (typeof frames)[0])).toMatchObject({ error: { type: "server_error" } })
    expect((await post("/v1/chat/completions", chat("mock-stream-error", "x"))).status).toBe(500)
  })

  it("mock-stream-error-<n> and mock-truncate-<n>: the error after n chunks; n chunks and a clean end without [DONE] or message_stop", async () => {
    const first = parseFrames(
      await (await post("/v1/chat/completions", chat("mock-stream-error-0", hello, { stream: true }))).text()
    )
    expect(first).toHaveLength(1)
    expect(json(first[0] as (typeof first)[0])).toMatchObject({ error: { type: "server_error" } })
    const cut = await (await post("/v1/chat/completions", chat("mock-truncate-2", hello, { stream: true }))).text()
    expect(parseFrames(cut)).toHaveLength(2)
    expect(cut).not.toContain("[DONE]")
    const claude = await (
      await post("/v1/messages", message("mock-truncate-3", hello, { stream: true }), anthropicHeaders)
    ).text()
    expect(claude).toContain("message_start")
    expect(claude).not.toContain("message_stop")
    const nothing = await (await post("/v1/chat/completions", chat("mock-truncate-0", hello, { stream: true }))).text()
    expect(nothing).toBe("")
  })

  it("any other model name answers normally", async () => {
    for (const model of ["mock-unknown", "mock-slowly", "gpt-4o"]) {
      const res = await post("/v1/chat/completions", chat(model, "x"))
      expect([model, res.status]).toEqual([model, 200])
      await res.body?.cancel()
    }
  })
})

describe("aborts, close and load", () => {
  it("records a client abort mid-stream within a second, and waitForAbort finds it", async () => {
    const controller = new AbortController()
    const res = await post(
      "/v1/chat/completions",
      chat("mock-slow-200", "abort-me", { stream: true }),
      {},
      controller.signal
    )
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    await reader.read()
    const aborted = mock.waitForAbort(bodyHas("abort-me"), 1_000)
    const at = Date.now()
    controller.abort()
    const r = await aborted
    expect(r.abortedAt).toBeGreaterThanOrEqual(at)
    expect((r.abortedAt ?? Number.POSITIVE_INFINITY) - at).toBeLessThan(1_000)
    expect(r.completedAt).toBeUndefined()
    // An abort that already happened resolves a later wait at once.
    expect((await mock.waitForAbort(bodyHas("abort-me"), 10)).id).toBe(r.id)
  })

  it("waitForAbort rejects when nothing matching aborts in time", async () => {
    await post("/v1/chat/completions", chat("m", "completes"))
    await expect(mock.waitForAbort(bodyHas("completes"), 100)).rejects.toThrow(/within 100 ms/)
  })

  it("reset clears requests and faults", async () => {
    mock.enqueueFaults({ kind: "status", status: 500 })
    await (await post("/v1/messages", message("c", "x"), {})).body?.cancel()
    expect(mock.requests).toHaveLength(1)
    mock.reset()
    expect(mock.requests).toHaveLength(0)
    expect((await post("/v1/chat/completions", chat("m", "x"))).status).toBe(200)
  })

  it("close() destroys hung and stalled connections and resolves", async () => {
    const own = await startMockUpstream()
    const hung = fetch(`${own.url}/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify(chat("mock-hang", "x"))
    }).then(
      () => "answered",
      () => "failed"
    )
    const stalled = await fetch(`${own.url}/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify(chat("mock-stall", hello, { stream: true }))
    })
    const stalledBody = stalled.text().then(
      () => "ended",
      () => "failed"
    )
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(await within(own.close(), 1_000)).toBeUndefined()
    expect(await within(hung, 1_000)).toBe("failed")
    expect(await within(stalledBody, 1_000)).toBe("failed")
    expect(own.requests.every((r) => r.abortedAt === undefined)).toBe(true)
  })

  it("serves 200 concurrent paced streams, each complete and correct", async () => {
    const own = await startMockUpstream({ chunkDelayMs: 10 })
    try {
      const texts = await Promise.all(
        Array.from({ length: 200 }, async (_, i) => {
          const res = await fetch(`${own.url}/v1/chat/completions`, {
            method: "POST",
            body: JSON.stringify(chat("m", `stream ${i}`, { stream: true }))
          })
          const frames = parseFrames(await res.text())
          return frames
            .slice(0, -1)
            .map((f) => (json(f) as { choices: [{ delta: { content?: string } }] }).choices[0].delta.content ?? "")
            .join("")
        })
      )
      expect(texts).toEqual(Array.from({ length: 200 }, (_, i) => `Mock reply to: stream ${i}`))
      expect(own.requests.filter((r) => r.completedAt !== undefined)).toHaveLength(200)
    } finally {
      await own.close()
    }
  })

  it("keeps only the most recent maxRecorded requests", async () => {
    const own = await startMockUpstream({ maxRecorded: 10 })
    try {
      for (let i = 0; i < 25; i++) await (await fetch(`${own.url}/v1/models`)).body?.cancel()
      expect(own.requests.length).toBeGreaterThanOrEqual(10)
      expect(own.requests.length).toBeLessThanOrEqual(11)
      expect(own.requests.at(-1)?.id).toBe(25)
    } finally {
      await own.close()
    }
  })
})
