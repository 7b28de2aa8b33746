import type { ChunkEvent } from "@ibex/domain"
import { Either, Option } from "effect"
import fc from "fast-check"
import OpenAI from "openai"
import { describe, expect, it } from "vitest"
import {
  AnthropicProtocolError,
  AnthropicStreamError,
  fromAnthropicResponse,
  makeStreamTranslator,
  type StreamTranslator
} from "../src/anthropic/index.js"
import { makeSseParser } from "../src/sse.js"

const created = 1_764_000_000
type Event = Record<string, unknown> & { readonly type: string }

/** Anthropic's wire format: each event named twice, in `event:` and in its data's `type`. */
const sse = (events: ReadonlyArray<Event>): string =>
  events.map((event) => `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`).join("")

/** Raw SSE text through the parser and the translator, as the adapter will run them. */
const run = (text: string, includeUsage = false): { chunks: Array<ChunkEvent>; translator: StreamTranslator } => {
  const parser = makeSseParser()
  const translator = makeStreamTranslator({ clientModel: "gpt-4o", created, includeUsage })
  const chunks: Array<ChunkEvent> = []
  for (const { event, data } of [...parser.push(text), ...parser.end()]) {
    const result = translator.push(event, data)
    if (Either.isLeft(result)) throw new Error(`unexpected stream failure: ${JSON.stringify(result.left)}`)
    chunks.push(...result.right)
  }
  chunks.push(...translator.end())
  return { chunks, translator }
}

const messageStart = (usage: Record<string, unknown> = { input_tokens: 25, output_tokens: 1 }): Event => ({
  type: "message_start",
  message: {
    id: "msg_01",
    type: "message",
    role: "assistant",
    model: "claude-sonnet-4-5-20250929",
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage
  }
})
const textStart = (index: number): Event => ({
  type: "content_block_start",
  index,
  content_block: { type: "text", text: "" }
})
const textDelta = (index: number, text: string): Event => ({
  type: "content_block_delta",
  index,
  delta: { type: "text_delta", text }
})
const toolStart = (index: number, id: string, name: string): Event => ({
  type: "content_block_start",
  index,
  content_block: { type: "tool_use", id, name, input: {} }
})
const jsonDelta = (index: number, partial_json: string): Event => ({
  type: "content_block_delta",
  index,
  delta: { type: "input_json_delta", partial_json }
})
const blockStop = (index: number): Event => ({ type: "content_block_stop", index })
const messageDelta = (stop_reason: string, usage: Record<string, unknown>): Event => ({
  type: "message_delta",
  delta: { stop_reason, stop_sequence: null },
  usage
})
const messageStop: Event = { type: "message_stop" }
const ping: Event = { type: "ping" }

const envelope = { id: "chatcmpl-msg_01", object: "chat.completion.chunk", created, model: "gpt-4o" }
const choice = (delta: unknown, finish_reason: string | null = null) => ({
  ...envelope,
  choices: [{ index: 0, delta, logprobs: null, finish_reason }]
})

const textStream = [
  messageStart({ input_tokens: 25, cache_creation_input_tokens: 0, cache_read_input_tokens: 10, output_tokens: 1 }),
  textStart(0),
  ping,
  textDelta(0, "Hello"),
  textDelta(0, ", world!"),
  blockStop(0),
  messageDelta("end_turn", { output_tokens: 15 }),
  messageStop
]

describe("stream translator: chunks as OpenAI streams them", () => {
  it("translates a text answer, chunk by chunk, with the usage-only chunk last", () => {
    const { chunks, translator } = run(sse(textStream))
    expect(chunks.map((c) => JSON.parse(c.json))).toEqual([
      choice({ role: "assistant", content: "" }),
      choice({ content: "Hello" }),
      choice({ content: ", world!" }),
      choice({}, "stop"),
      {
        ...envelope,
        choices: [],
        usage: {
          prompt_tokens: 35,
          completion_tokens: 15,
          total_tokens: 50,
          prompt_tokens_details: { cached_tokens: 10 }
        }
      }
    ])
    // Exactly OpenAI's key order and spelling, byte for byte.
    expect(chunks[1]?.json).toBe(
      '{"id":"chatcmpl-msg_01","object":"chat.completion.chunk","created":1764000000,"model":"gpt-4o",' +
        '"choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}]}'
    )
    expect(chunks.map((c) => c.usageOnly)).toEqual([false, false, false, false, true])
    expect(chunks.slice(0, 4).every((c) => Option.isNone(c.usage))).toBe(true)
    expect(chunks[4]?.usage).toEqual(
      Option.some({ promptTokens: 35, completionTokens: 15, cachedTokens: 10, totalTokens: 50 })
    )
    expect(translator.completed()).toBe(true)
  })

  it('with include_usage, every other chunk carries "usage": null, as OpenAI\'s do', () => {
    const { chunks } = run(sse(textStream), true)
    expect(chunks.map((c) => JSON.parse(c.json).usage)).toEqual([
      null,
      null,
      null,
      null,
      { prompt_tokens: 35, completion_tokens: 15, total_tokens: 50, prompt_tokens_details: { cached_tokens: 10 } }
    ])
  })

  it("numbers tool calls from 0 whatever their block index, and drops thinking", () => {
    const { chunks } = run(
      sse([
        messageStart(),
        { type: "content_block_start", index: 0, content_block: { type: "thinking", thinking: "" } },
        { type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: "Need the weather." } },
        { type: "content_block_delta", index: 0, delta: { type: "signature_delta", signature: "EqQBCgIYAhIM" } },
        blockStop(0),
        textStart(1),
        textDelta(1, "Checking."),
        blockStop(1),
        toolStart(2, "toolu_01A", "get_weather"),
        jsonDelta(2, ""),
        jsonDelta(2, '{"city": '),
        jsonDelta(2, '"Paris"}'),
        blockStop(2),
        toolStart(3, "toolu_01B", "get_time"),
        blockStop(3),
        messageDelta("tool_use", { output_tokens: 40 }),
        messageStop
      ])
    )
    expect(chunks.map((c) => JSON.parse(c.json).choices[0]?.delta)).toEqual([
      { role: "assistant", content: "" },
      { content: "Checking." },
      {
        tool_calls: [{ index: 0, id: "toolu_01A", type: "function", function: { name: "get_weather", arguments: "" } }]
      },
      { tool_calls: [{ index: 0, function: { arguments: '{"city": ' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] },
      { tool_calls: [{ index: 1, id: "toolu_01B", type: "function", function: { name: "get_time", arguments: "" } }] },
      // A call whose input came in no delta still gets arguments that parse.
      { tool_calls: [{ index: 1, function: { arguments: "{}" } }] },
      {},
      undefined // the usage-only chunk has no choices
    ])
    expect(JSON.parse(chunks[7]!.json).choices[0].finish_reason).toBe("tool_calls")
  })

  it("maps the stop reason on the finish chunk", () => {
    const finish = (stopReason: string) =>
      JSON.parse(
        run(sse([messageStart(), messageDelta(stopReason, { output_tokens: 1 }), messageStop])).chunks[1]!.json
      ).choices[0].finish_reason
    expect(finish("end_turn")).toBe("stop")
    expect(finish("stop_sequence")).toBe("stop")
    expect(finish("max_tokens")).toBe("length")
    expect(finish("tool_use")).toBe("tool_calls")
    expect(finish("refusal")).toBe("content_filter")
    expect(finish("pause_turn")).toBe("stop")
  })

  it("takes later usage fields over earlier ones (message_delta may restate input counts)", () => {
    const { chunks } = run(
      sse([
        messageStart({ input_tokens: 100, cache_read_input_tokens: 0, output_tokens: 1 }),
        messageDelta("end_turn", { input_tokens: 120, cache_read_input_tokens: 30, output_tokens: 7 }),
        messageStop
      ])
    )
    expect(chunks.at(-1)?.usage).toEqual(
      Option.some({ promptTokens: 150, completionTokens: 7, cachedTokens: 30, totalTokens: 157 })
    )
  })

  it("passes over event and block types it does not know, and anything after message_stop", () => {
    const { chunks } = run(
      sse([
        messageStart(),
        { type: "content_block_start", index: 0, content_block: { type: "server_tool_use", id: "srvtoolu_1" } },
        jsonDelta(0, '{"query":"x"}'),
        blockStop(0),
        { type: "some_future_event", detail: 1 },
        textStart(1),
        { type: "content_block_delta", index: 1, delta: { type: "citations_delta", citation: {} } },
        textDelta(1, "Done."),
        blockStop(1),
        messageDelta("end_turn", { output_tokens: 3 }),
        messageStop,
        textDelta(1, "late")
      ])
    )
    expect(chunks.map((c) => JSON.parse(c.json).choices[0]?.delta)).toEqual([
      { role: "assistant", content: "" },
      { content: "Done." },
      {},
      undefined
    ])
  })
})

describe("stream translator: failures and cut streams", () => {
  const translator = () => makeStreamTranslator({ clientModel: "gpt-4o", created, includeUsage: false })
  const push = (t: StreamTranslator, event: Event) => t.push(event.type, JSON.stringify(event))

  it("turns an error event into an AnthropicStreamError, and still reports usage for metering", () => {
    const t = translator()
    expect(Either.isRight(push(t, messageStart({ input_tokens: 40, output_tokens: 1 })))).toBe(true)
    expect(Either.isRight(push(t, textStart(0)))).toBe(true)
    const result = t.push("error", '{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}')
    expect(result).toEqual(
      Either.left(new AnthropicStreamError({ errorType: "overloaded_error", message: "Overloaded" }))
    )
    expect(t.completed()).toBe(false)
    const rest = t.end()
    expect(rest.map((c) => c.usageOnly)).toEqual([true])
    expect(rest[0]?.usage).toEqual(
      Option.some({ promptTokens: 40, completionTokens: 1, cachedTokens: 0, totalTokens: 41 })
    )
  })

  it("reports an error before message_start, with nothing to meter", () => {
    const t = translator()
    const result = t.push("error", '{"type":"error","error":{"type":"api_error","message":"Internal server error"}}')
    expect(Either.isLeft(result) && result.left._tag).toBe("AnthropicStreamError")
    expect(t.end()).toEqual([])
  })

  it("reports data that is not the protocol as an AnthropicProtocolError", () => {
    const fails = (events: ReadonlyArray<readonly [string, string]>) => {
      const t = translator()
      let last: Either.Either<ReadonlyArray<ChunkEvent>, unknown> = Either.right([])
      for (const [event, data] of events) last = t.push(event, data)
      if (Either.isRight(last)) throw new Error("expected a failure")
      expect(last.left).toBeInstanceOf(AnthropicProtocolError)
    }
    const start = ["message_start", JSON.stringify(messageStart())] as const
    fails([["message_start", "{not json"]])
    fails([["message_start", "[1]"]])
    fails([["content_block_delta", JSON.stringify(textDelta(0, "x"))]])
    fails([start, ["content_block_delta", JSON.stringify(textDelta(0, "x"))]])
    fails([start, start])
    fails([["message_start", '{"type":"message_start","message":{}}']])
  })

  it("ends a stream cut before message_stop with the usage so far and completed() false", () => {
    const { chunks, translator: t } = run(
      sse([messageStart({ input_tokens: 9, output_tokens: 1 }), textStart(0), textDelta(0, "Hel")])
    )
    expect(t.completed()).toBe(false)
    expect(chunks.map((c) => c.usageOnly)).toEqual([false, false, true])
    expect(chunks.at(-1)?.usage).toEqual(
      Option.some({ promptTokens: 9, completionTokens: 1, cachedTokens: 0, totalTokens: 10 })
    )
  })

  it("closes a message_stop without message_delta with finish_reason stop, and end() adds nothing", () => {
    const { chunks } = run(sse([messageStart(), textStart(0), textDelta(0, "Hi"), messageStop]))
    expect(chunks.map((c) => JSON.parse(c.json).choices[0]?.finish_reason)).toEqual([null, null, "stop", undefined])
  })
})

// ---------------------------------------------------------------------------------------------
// Stream == whole answer, through the official openai client
// ---------------------------------------------------------------------------------------------

/**
 * What an OpenAI SDK user ends up with: our chunks served as an OpenAI SSE response to the
 * official `openai` client, accumulated by its own `chat.completions.stream()` helper.
 */
const reassembleWithOpenAi = async (chunks: ReadonlyArray<ChunkEvent>): Promise<Record<string, unknown>> => {
  const body = `${chunks.map((c) => `data: ${c.json}\n\n`).join("")}data: [DONE]\n\n`
  const client = new OpenAI({
    apiKey: "sk-test",
    baseURL: "http://upstream.invalid/v1",
    maxRetries: 0,
    fetch: async () => new Response(body, { status: 200, headers: { "content-type": "text/event-stream" } })
  })
  const final = await client.chat.completions
    .stream({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }], stream_options: { include_usage: true } })
    .finalChatCompletion()
  // The helper adds its own `parsed` (for response_format helpers); not part of the wire format.
  const { parsed: _parsed, ...message } = final.choices[0]!.message as unknown as Record<string, unknown>
  return { ...final, choices: [{ ...final.choices[0], message }] }
}

const wholeAnswer = (message: Record<string, unknown>) => {
  const result = fromAnthropicResponse(message, "gpt-4o", created)
  if (Either.isLeft(result)) throw new Error(result.left.detail)
  return result.right.completion
}

describe("stream translator: the streamed answer reassembles into the whole answer", () => {
  it("a text-and-tools conversation turn, via the official openai client", async () => {
    const streamed = sse([
      messageStart({ input_tokens: 480, cache_read_input_tokens: 1_200, output_tokens: 2 }),
      textStart(0),
      textDelta(0, "I'll look up "),
      textDelta(0, "both."),
      blockStop(0),
      toolStart(1, "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather"),
      jsonDelta(1, ""),
      jsonDelta(1, '{"location":"San Fra'),
      jsonDelta(1, 'ncisco, CA","unit":"fahrenheit"}'),
      blockStop(1),
      toolStart(2, "toolu_01Ab", "get_time"),
      jsonDelta(2, '{"tz":"America/Los_Angeles"}'),
      blockStop(2),
      messageDelta("tool_use", { output_tokens: 89 }),
      messageStop
    ])
    const whole = {
      id: "msg_01",
      type: "message",
      role: "assistant",
      content: [
        { type: "text", text: "I'll look up both." },
        {
          type: "tool_use",
          id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
          name: "get_weather",
          input: { location: "San Francisco, CA", unit: "fahrenheit" }
        },
        { type: "tool_use", id: "toolu_01Ab", name: "get_time", input: { tz: "America/Los_Angeles" } }
      ],
      stop_reason: "tool_use",
      usage: { input_tokens: 480, cache_read_input_tokens: 1_200, output_tokens: 89 }
    }
    expect(await reassembleWithOpenAi(run(streamed).chunks)).toEqual(wholeAnswer(whole))
  })

  it("any answer: random text, thinking and tool blocks, split anywhere", async () => {
    const fragments = fc.array(fc.string({ unit: "binary", maxLength: 6 }), { maxLength: 5 })
    const block = fc.oneof(
      fc.record({ kind: fc.constant("text" as const), parts: fragments }),
      fc.record({ kind: fc.constant("thinking" as const), parts: fragments }),
      fc.record({
        kind: fc.constant("tool" as const),
        name: fc.constantFrom("get_weather", "search", "noop"),
        input: fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
        cuts: fc.array(fc.nat(), { maxLength: 4 })
      })
    )
    const answer = fc.record({
      blocks: fc.array(block, { maxLength: 5 }),
      stopReason: fc.constantFrom("end_turn", "max_tokens", "tool_use", "stop_sequence", "refusal"),
      input: fc.nat({ max: 10_000 }),
      cacheRead: fc.nat({ max: 10_000 }),
      output: fc.nat({ max: 10_000 })
    })
    await fc.assert(
      fc.asyncProperty(answer, async ({ blocks, stopReason, input, cacheRead, output }) => {
        const events: Array<Event> = [
          messageStart({ input_tokens: input, cache_read_input_tokens: cacheRead, output_tokens: 1 })
        ]
        const content: Array<Record<string, unknown>> = []
        blocks.forEach((b, index) => {
          if (b.kind === "text") {
            events.push(textStart(index), ...b.parts.map((p) => textDelta(index, p)), blockStop(index))
            content.push({ type: "text", text: b.parts.join("") })
          } else if (b.kind === "thinking") {
            events.push(
              { type: "content_block_start", index, content_block: { type: "thinking", thinking: "" } },
              ...b.parts.map((p) => ({
                type: "content_block_delta",
                index,
                delta: { type: "thinking_delta", thinking: p }
              })),
              blockStop(index)
            )
            content.push({ type: "thinking", thinking: b.parts.join(""), signature: "sig" })
          } else {
            const id = `toolu_${index}`
            const json = JSON.stringify(b.input)
            const points = [...new Set(b.cuts.map((c) => c % (json.length + 1)))].sort((x, y) => x - y)
            const pieces = [0, ...points].map((from, i, all) => json.slice(from, all[i + 1] ?? json.length))
            events.push(toolStart(index, id, b.name), ...pieces.map((p) => jsonDelta(index, p)), blockStop(index))
            content.push({ type: "tool_use", id, name: b.name, input: JSON.parse(json) })
          }
        })
        events.push(messageDelta(stopReason, { output_tokens: output }), messageStop)

        const expected = wholeAnswer({
          id: "msg_01",
          type: "message",
          content,
          stop_reason: stopReason,
          usage: { input_tokens: input, cache_read_input_tokens: cacheRead, output_tokens: output }
        })
        // OpenAI's stream, like ours, opens with content "": the SDK keeps only non-empty text, so
        // an answer with no text at all reassembles to content null.
        const message = expected.choices[0].message
        const expectedMessage = message.content === "" ? { ...message, content: null } : message
        const reassembled = await reassembleWithOpenAi(run(sse(events)).chunks)
        expect(reassembled).toEqual({ ...expected, choices: [{ ...expected.choices[0], message: expectedMessage }] })
      }),
      { numRuns: 150 }
    )
  })
})
