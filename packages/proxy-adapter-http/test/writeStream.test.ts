import type { ServerResponse } from "node:http"
import { describe, expect, it } from "@effect/vitest"
import type { ChunkEvent } from "@ibex/domain"
import { Option } from "effect"
import fc from "fast-check"
import { appendDelivered } from "../src/chat/estimateUsage.js"
import { makeStreamWriter } from "../src/chat/writeStream.js"

/** A response that takes every write: what the writer sends is not this test's concern. */
const sink = () => {
  let written = 0
  const res = {
    destroyed: false,
    writableFinished: true,
    cork: () => undefined,
    uncork: () => undefined,
    write: (s: string) => {
      written += s.length
      return true
    },
    end: () => undefined
  }
  return { res: res as unknown as ServerResponse, written: () => written }
}

const chunk = (content: string): ChunkEvent => ({
  json: JSON.stringify({
    id: "chatcmpl-1",
    object: "chat.completion.chunk",
    created: 1,
    model: "m",
    choices: [{ index: 0, delta: { content }, finish_reason: null }]
  }),
  usage: Option.none(),
  usageOnly: false
})

describe("the stream writer's delivered text", () => {
  it("is what folding every chunk written would give, however long the stream (chunks are folded as they pass)", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 40 }), { maxLength: 3_000 }), (contents) => {
        const { res } = sink()
        const writer = makeStreamWriter(res, {
          wantsUsageChunk: false,
          errorEvent: () => ({}) as never,
          requestStarted: performance.now()
        })
        const events = contents.map(chunk)
        for (let i = 0; i < events.length; i += 7) writer.batch(events.slice(i, i + 7))
        const outcome = writer.ended()
        expect(outcome.deliveredText()).toBe(events.map((e) => e.json).reduce(appendDelivered, ""))
        expect(outcome.deliveredText()).toBe(contents.join(""))
      }),
      { numRuns: 40 }
    )
  })

  it("a usage chunk is not delivered text", () => {
    const { res } = sink()
    const writer = makeStreamWriter(res, {
      wantsUsageChunk: true,
      errorEvent: () => ({}) as never,
      requestStarted: performance.now()
    })
    writer.batch([
      chunk("hello "),
      {
        json: '{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}',
        usage: Option.some({ promptTokens: 1, completionTokens: 2, cachedTokens: 0, totalTokens: 3 }),
        usageOnly: true
      },
      chunk("world")
    ])
    const outcome = writer.ended()
    expect(outcome.deliveredText()).toBe("hello world")
    expect(Option.isSome(outcome.usage)).toBe(true)
  })
})
