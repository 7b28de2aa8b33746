import { PassThrough } from "node:stream"
import { type ChunkEvent, UpstreamConnectFailed } from "@ibex/domain"
import { Chunk, Effect, Exit, Fiber, Option, Stream } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { UpstreamExchange, UpstreamHttp } from "../src/http/UpstreamHttp.js"
import { carriesUsage } from "../src/openaiDialect.js"
import { type SseTranslation, sseChunks } from "../src/upstreamEvents.js"

const http: UpstreamHttp = {
  post: () => Effect.die("unused"),
  postNow: () => {
    throw new Error("unused")
  },
  bodyFailure: (providerId) => new UpstreamConnectFailed({ providerId, detail: "body failed" }),
  close: Effect.void
}

const exchangeOf = (body: PassThrough) => {
  let released = 0
  const exchange: UpstreamExchange = {
    status: 200,
    headers: {},
    body: body as unknown as UpstreamExchange["body"],
    release: () => {
      released++
    }
  }
  return { exchange, released: () => released }
}

/** Every `data:` as one chunk, and one closing chunk at the end: enough to see order, batching and the end. */
const echo: SseTranslation = {
  onEvents: (events) => events.map((e) => ({ json: e.data, usage: Option.none(), usageOnly: false })),
  onEnd: () => [{ json: "END", usage: Option.none(), usageOnly: false }]
}

const frames = (n: number) => Array.from({ length: n }, (_, i) => `data: {"n":${i},"t":"héllo ✓ ${i}"}\n\n`).join("")

describe("sseChunks: an upstream body read in batches", () => {
  it("delivers every event once, in order, whatever the network splits (UTF-8 split inside a character included)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 30 }), async (cuts) => {
        const bytes = Buffer.from(frames(12), "utf8")
        const body = new PassThrough()
        const { exchange, released } = exchangeOf(body)
        const collected = Effect.runPromise(Stream.runCollect(sseChunks(http, "p", exchange, echo)))
        let at = 0
        for (const cut of cuts) {
          if (at >= bytes.length) break
          body.write(bytes.subarray(at, at + cut))
          at += cut
          await new Promise((r) => setImmediate(r))
        }
        body.end(bytes.subarray(at))
        const out = Chunk.toReadonlyArray(await collected).map((c: ChunkEvent) => c.json)
        expect(out).toEqual([...Array.from({ length: 12 }, (_, i) => `{"n":${i},"t":"héllo ✓ ${i}"}`), "END"])
        expect(released()).toBe(1)
      }),
      { numRuns: 40 }
    )
  })

  it("takes what the socket already holds in one pull: many events, one batch", async () => {
    const body = new PassThrough()
    const { exchange } = exchangeOf(body)
    body.write(frames(5))
    body.end()
    const batches: Array<number> = []
    await Effect.runPromise(
      Stream.runForEachChunk(sseChunks(http, "p", exchange, echo), (c) => Effect.sync(() => batches.push(c.length)))
    )
    expect(batches.filter((n) => n > 0)).toEqual([5, 1])
  })

  it("a body that fails midway fails the stream with the transport's failure, after the events before it", async () => {
    const body = new PassThrough()
    const { exchange, released } = exchangeOf(body)
    const seen: Array<string> = []
    const run = Effect.runPromiseExit(
      Stream.runForEach(sseChunks(http, "p", exchange, echo), (c) => Effect.sync(() => seen.push(c.json)))
    )
    body.write(frames(2))
    await new Promise((r) => setTimeout(r, 5))
    body.destroy(new Error("socket hang up"))
    const exit = await run
    expect(seen).toHaveLength(2)
    expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).toContain("UpstreamConnectFailed")
    expect(released()).toBe(1)
  })

  it("an interrupted reader releases the exchange and destroys the body (the upstream socket is let go)", async () => {
    const body = new PassThrough()
    const { exchange, released } = exchangeOf(body)
    body.write(frames(1))
    const fiber = Effect.runFork(Stream.runDrain(sseChunks(http, "p", exchange, echo)))
    await new Promise((r) => setTimeout(r, 5))
    await Effect.runPromise(Fiber.interrupt(fiber))
    expect(released()).toBe(1)
    expect(body.destroyed).toBe(true)
  })
})

describe("carriesUsage: which OpenAI chunks are worth parsing", () => {
  it("skips the null usage every include_usage chunk carries, in any spacing", () => {
    expect(carriesUsage('{"choices":[{"delta":{"content":"hi"}}],"usage":null}')).toBe(false)
    expect(carriesUsage('{"choices":[], "usage" :  null }')).toBe(false)
    expect(carriesUsage('{"choices":[{"delta":{"content":"hi"}}]}')).toBe(false)
  })
  it("finds a usage object, in any spacing", () => {
    expect(carriesUsage('{"choices":[],"usage":{"prompt_tokens":1}}')).toBe(true)
    expect(carriesUsage('{"choices":[] , "usage" : {"prompt_tokens":1}}')).toBe(true)
    expect(carriesUsage('{"usage":null,"x":{"usage":{"a":1}}}')).toBe(true)
  })
  it("is not fooled by the word inside content (quotes in a JSON string are escaped)", () => {
    const chunk = JSON.stringify({
      choices: [{ delta: { content: 'say "usage": {"prompt_tokens": 9}' } }],
      usage: null
    })
    expect(carriesUsage(chunk)).toBe(false)
  })
})
