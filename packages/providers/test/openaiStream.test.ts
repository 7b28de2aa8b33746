import { PassThrough } from "node:stream"
import {
  type ChunkEvent,
  type ChunkPuller,
  UpstreamConnectFailed,
  type UpstreamFailure,
  UpstreamProtocolError
} from "@ibex/domain"
import { Chunk, Effect, Either, Exit, Fiber, Option, Stream } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { UpstreamExchange, UpstreamHttp } from "../src/http/UpstreamHttp.js"
import { carriesUsage, openAiEvents } from "../src/openaiDialect.js"
import { chunkStream, primeNow, providerCodeOf, type SseTranslation, ssePuller } from "../src/upstreamEvents.js"

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
  onEvents: (events, out) => {
    for (const e of events) out.push({ json: e.data, usage: Option.none(), usageOnly: false })
  },
  onEnd: () => [{ json: "END", usage: Option.none(), usageOnly: false }]
}

const frames = (n: number) => Array.from({ length: n }, (_, i) => `data: {"n":${i},"t":"héllo ✓ ${i}"}\n\n`).join("")

describe("ssePuller: an upstream body read in batches", () => {
  it("delivers every event once, in order, whatever the network splits (UTF-8 split inside a character included)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 30 }), async (cuts) => {
        const bytes = Buffer.from(frames(12), "utf8")
        const body = new PassThrough()
        const { exchange, released } = exchangeOf(body)
        const collected = Effect.runPromise(Stream.runCollect(chunkStream(ssePuller(http, "p", exchange, echo))))
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
      Stream.runForEachChunk(chunkStream(ssePuller(http, "p", exchange, echo)), (c) =>
        Effect.sync(() => batches.push(c.length))
      )
    )
    expect(batches.filter((n) => n > 0)).toEqual([5, 1])
  })

  it("a body that fails midway fails the stream with the transport's failure, after the events before it", async () => {
    const body = new PassThrough()
    const { exchange, released } = exchangeOf(body)
    const seen: Array<string> = []
    const run = Effect.runPromiseExit(
      Stream.runForEach(chunkStream(ssePuller(http, "p", exchange, echo)), (c) => Effect.sync(() => seen.push(c.json)))
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
    const fiber = Effect.runFork(Stream.runDrain(chunkStream(ssePuller(http, "p", exchange, echo))))
    await new Promise((r) => setTimeout(r, 5))
    await Effect.runPromise(Fiber.interrupt(fiber))
    expect(released()).toBe(1)
    expect(body.destroyed).toBe(true)
  })
})

describe("ssePuller and primeNow: a failure inside a batch, a stream that fails before its first chunk", () => {
  /** `echo`, failing at the event whose data is "boom". */
  const failing: SseTranslation = {
    onEvents: (events, out) => {
      for (const e of events) {
        if (e.data === "boom") throw new UpstreamProtocolError({ providerId: "p", detail: "boom" })
        out.push({ json: e.data, usage: Option.none(), usageOnly: false })
      }
    },
    onEnd: () => []
  }
  const pullAll = (puller: ChunkPuller) =>
    new Promise<{ batches: Array<Array<string>>; failure: string | undefined }>((resolve) => {
      const batches: Array<Array<string>> = []
      const next = () =>
        puller.pull((batch) => {
          if (Either.isLeft(batch)) return resolve({ batches, failure: batch.left._tag })
          if (batch.right === null) return resolve({ batches, failure: undefined })
          // The read that brings the end may bring no chunk: an empty batch, not worth comparing.
          if (batch.right.length > 0) batches.push(batch.right.map((c) => c.json))
          next()
        })
      next()
    })

  it("delivers the chunks before a failure in the same read, then fails on the next pull", async () => {
    const body = new PassThrough()
    const { exchange } = exchangeOf(body)
    body.end("data: a\n\ndata: b\n\ndata: boom\n\ndata: never\n\n")
    const seen = await pullAll(ssePuller(http, "p", exchange, failing))
    expect(seen).toEqual({ batches: [["a", "b"]], failure: "UpstreamProtocolError" })
  })

  it("primeNow fails an attempt whose first event is a failure, and releases the body", async () => {
    const body = new PassThrough()
    const { exchange, released } = exchangeOf(body)
    body.end("data: boom\n\n")
    const primed = await new Promise<Either.Either<ChunkPuller, UpstreamFailure>>((r) =>
      primeNow(ssePuller(http, "p", exchange, failing), r)
    )
    expect(Either.isLeft(primed) && primed.left._tag).toBe("UpstreamProtocolError")
    expect(released()).toBe(1)
  })

  it("primeNow waits past empty batches for the first chunk and hands it back first", async () => {
    const body = new PassThrough()
    const { exchange } = exchangeOf(body)
    body.write(": a comment, no event\n\n")
    const primed = new Promise<Either.Either<ChunkPuller, UpstreamFailure>>((r) =>
      primeNow(ssePuller(http, "p", exchange, failing), r)
    )
    await new Promise((r) => setTimeout(r, 5))
    body.end("data: first\n\ndata: second\n\n")
    const puller = Either.getOrThrow(await primed)
    expect(await pullAll(puller)).toEqual({ batches: [["first", "second"]], failure: undefined })
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

describe("providerCodeOf: the provider's own error code, passed on as provider_code", () => {
  it("reads OpenAI's error.code, else the error's type; only identifier-shaped and never key-shaped", () => {
    const of = (body: unknown) => Option.getOrUndefined(providerCodeOf(JSON.stringify(body)))
    expect(of({ error: { message: "too long", type: "invalid_request_error", code: "context_length_exceeded" } })).toBe(
      "context_length_exceeded"
    )
    expect(of({ type: "error", error: { type: "invalid_request_error", message: "prompt is too long" } })).toBe(
      "invalid_request_error"
    )
    expect(of({ error: { code: "a sentence, not a code" } })).toBeUndefined()
    expect(of({ error: { code: `sk-proj-${"a1".repeat(24)}` } })).toBeUndefined()
    expect(of({ error: "flat string" })).toBeUndefined()
    expect(Option.isNone(providerCodeOf("not json"))).toBe(true)
  })
})

describe("openAiEvents: when an OpenAI stream counts as whole", () => {
  const ended = async (text: string) => {
    const body = new PassThrough()
    const { exchange } = exchangeOf(body)
    body.end(text)
    const seen: Array<string> = []
    const exit = await Effect.runPromiseExit(
      Stream.runForEach(chunkStream(ssePuller(http, "p", exchange, openAiEvents("p"))), (c) =>
        Effect.sync(() => seen.push(c.json))
      )
    )
    return { seen: seen.length, failed: Exit.isFailure(exit) }
  }
  const content = 'data: {"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}\n\n'
  const finish = 'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
  const usage = 'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}\n\n'

  it("whole: [DONE]; or, from a server that omits it, a finished choice last or before the usage chunk", async () => {
    expect(await ended(`${content}${finish}${usage}data: [DONE]\n\n`)).toEqual({ seen: 3, failed: false })
    expect(await ended(`${content}${finish}${usage}`)).toEqual({ seen: 3, failed: false })
    expect(await ended(`${content}${finish}`)).toEqual({ seen: 2, failed: false })
  })

  it("cut short: content and no finish, or nothing at all, fails after the chunks it had", async () => {
    expect(await ended(`${content}${content}`)).toEqual({ seen: 2, failed: true })
    expect(await ended("")).toEqual({ seen: 0, failed: true })
  })
})

describe("primeNow's canceller", () => {
  it("stops the pull still waiting, even after a pull that answered at once with nothing", async () => {
    const body = new PassThrough()
    const { exchange } = exchangeOf(body)
    // A comment: the first pull answers at once with no chunk, and a second pull waits.
    body.write(": keep-alive\n\n")
    await new Promise((r) => setImmediate(r))
    const cancel = primeNow(ssePuller(http, "p", exchange, openAiEvents("p")), () => {
      throw new Error("nothing should settle")
    })
    expect(body.listenerCount("readable")).toBe(1)
    cancel()
    expect(body.listenerCount("readable")).toBe(0)
    expect(body.destroyed).toBe(true)
  })
})
