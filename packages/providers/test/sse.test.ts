import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { makeSseParser, type SseEvent, SseEventTooLarge } from "../src/sse.js"

const parseAll = (...pieces: ReadonlyArray<string>): Array<SseEvent> => {
  const parser = makeSseParser()
  const events = pieces.flatMap((piece) => parser.push(piece))
  return [...events, ...parser.end()]
}

/**
 * The spec's algorithm, written the slow, obvious way (whole text, split into lines by a
 * regular expression), to check the fast one against.
 */
const reference = (input: string): Array<SseEvent> => {
  const text = input.startsWith("\uFEFF") ? input.slice(1) : input
  const lines = text.split(/\r\n|\r|\n/)
  lines.pop() // what follows the last line terminator is not a line yet
  const events: Array<SseEvent> = []
  let type = ""
  let data: Array<string> = []
  for (const line of lines) {
    if (line === "") {
      if (data.length > 0) events.push({ event: type || "message", data: data.join("\n") })
      type = ""
      data = []
      continue
    }
    if (line.startsWith(":")) continue
    const colon = line.indexOf(":")
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? "" : line.slice(colon + 1)
    if (value.startsWith(" ")) value = value.slice(1)
    if (field === "data") data.push(value)
    if (field === "event") type = value
  }
  return events
}

describe("SSE parser: the event stream format", () => {
  it("reads named events, the default type, multi-line data and comments", () => {
    const text = [
      ": a comment, then a keep-alive comment",
      ":",
      "event: message_start",
      'data: {"type":"message_start"}',
      "",
      "data: first",
      "data: second",
      "",
      "event: ping",
      'data: {"type": "ping"}',
      "",
      "data: [DONE]",
      "",
      ""
    ].join("\n")
    expect(parseAll(text)).toEqual([
      { event: "message_start", data: '{"type":"message_start"}' },
      { event: "message", data: "first\nsecond" },
      { event: "ping", data: '{"type": "ping"}' },
      { event: "message", data: "[DONE]" }
    ])
  })

  it("accepts CRLF, lone CR and LF line ends, mixed", () => {
    expect(parseAll("event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\rdata: 3\n\n")).toEqual([
      { event: "a", data: "1" },
      { event: "b", data: "2" },
      { event: "message", data: "3" }
    ])
  })

  it("removes exactly one space after the colon, and reads a field without a colon as empty", () => {
    expect(parseAll("data:x\n\ndata:  two spaces\n\ndata\ndata\n\n")).toEqual([
      { event: "message", data: "x" },
      { event: "message", data: " two spaces" },
      { event: "message", data: "\n" }
    ])
  })

  it("dispatches nothing for an event without data, and the type does not leak into the next event", () => {
    expect(parseAll("event: lonely\n\ndata: after\n\n")).toEqual([{ event: "message", data: "after" }])
  })

  it("ignores id, retry and unknown fields; field names are case-sensitive", () => {
    expect(parseAll("id: 7\nretry: 100\nfoo: bar\nData: no\nEVENT: no\ndata: yes\n\n")).toEqual([
      { event: "message", data: "yes" }
    ])
  })

  it("skips a byte order mark at the start of the stream only", () => {
    expect(parseAll("\uFEFFdata: a\n\n")).toEqual([{ event: "message", data: "a" }])
    expect(parseAll("\uFEFF", "data: a\n\n")).toEqual([{ event: "message", data: "a" }])
    // Later, it is part of the line: "\uFEFFdata" is not the field "data".
    expect(parseAll("data: a\n\n", "\uFEFFdata: b\n\n")).toEqual([{ event: "message", data: "a" }])
  })

  it("discards an event the stream cut off before its blank line (end returns nothing)", () => {
    const parser = makeSseParser()
    expect(parser.push("data: whole\n\ndata: half")).toEqual([{ event: "message", data: "whole" }])
    expect(parser.push("\ndata: more\n")).toEqual([])
    expect(parser.end()).toEqual([])
  })

  it("joins a line split across pushes, including between the CR and LF of a CRLF", () => {
    const parser = makeSseParser()
    expect(parser.push("ev")).toEqual([])
    expect(parser.push("ent: x\r")).toEqual([])
    expect(parser.push("\ndata: y\r")).toEqual([])
    // The LF completing "data: y\r" must not count as a second, blank line.
    expect(parser.push("\n")).toEqual([])
    expect(parser.push("\r\n")).toEqual([{ event: "x", data: "y" }])
  })

  it("refuses an event or a line that grows past its bound, however it is split, after the events before it", () => {
    const whole = makeSseParser(1_000)
    // The events completed before the one too large are given; the next push or the end throws.
    expect(whole.push(`data: a\n\ndata: b\n\ndata: ${"x".repeat(1_001)}\n\ndata: c\n\n`)).toEqual([
      { event: "message", data: "a" },
      { event: "message", data: "b" }
    ])
    expect(() => whole.push("data: d\n\n")).toThrow(SseEventTooLarge)
    expect(() => whole.end()).toThrow(SseEventTooLarge)
    const lines = makeSseParser(1_000)
    lines.push(`data: ${"x".repeat(600)}\n`)
    expect(lines.push(`data: ${"x".repeat(600)}\n`)).toEqual([])
    expect(() => lines.end()).toThrow(SseEventTooLarge)
    const endless = makeSseParser(1_000)
    for (let i = 0; i < 9; i++) endless.push("x".repeat(100))
    endless.push("x".repeat(200))
    expect(() => endless.push("x")).toThrow(SseEventTooLarge)
    const within = makeSseParser(1_000)
    expect(within.push(`data: ${"x".repeat(1_000)}\n\n`)).toHaveLength(1)
    expect(within.end()).toEqual([])
  })

  it("keeps a long data line whole across many small pushes", () => {
    const payload = "x".repeat(100_000)
    const text = `data: ${payload}\n\n`
    const pieces: Array<string> = []
    for (let i = 0; i < text.length; i += 997) pieces.push(text.slice(i, i + 997))
    expect(parseAll(...pieces)).toEqual([{ event: "message", data: payload }])
  })
})

/** Text built from the pieces that matter to the grammar, so odd splits and line ends are common. */
const sseText = fc
  .array(
    fc.constantFrom(
      "\n",
      "\r",
      "\r\n",
      "\n\n",
      ":",
      ": ",
      "data",
      "data: ",
      "data:",
      "event: ",
      "event",
      "id: 1",
      " ",
      "x",
      "{}",
      "é",
      "😀",
      "\uFEFF"
    ),
    { maxLength: 60 }
  )
  .map((pieces) => pieces.join(""))

describe("SSE parser: properties", () => {
  it("agrees with the spec's algorithm written plainly", () => {
    fc.assert(
      fc.property(sseText, (text) => {
        expect(parseAll(text)).toEqual(reference(text))
      }),
      { numRuns: 2_000 }
    )
  })

  it("gives the same events however the text is split in two (every split point)", () => {
    fc.assert(
      fc.property(sseText, (text) => {
        const whole = parseAll(text)
        for (let i = 0; i <= text.length; i++) {
          expect(parseAll(text.slice(0, i), text.slice(i))).toEqual(whole)
        }
      }),
      { numRuns: 500 }
    )
  })

  it("gives the same events when the UTF-8 bytes are split anywhere and decoded as a stream", () => {
    const encoder = new TextEncoder()
    fc.assert(
      fc.property(sseText, fc.array(fc.nat(), { maxLength: 8 }), (text, cuts) => {
        const bytes = encoder.encode(text)
        const whole = parseAll(text)
        // Every single byte boundary...
        for (let i = 0; i <= bytes.length; i++) {
          const decoder = new TextDecoder("utf-8", { ignoreBOM: true })
          const parser = makeSseParser()
          const events = [
            ...parser.push(decoder.decode(bytes.subarray(0, i), { stream: true })),
            ...parser.push(decoder.decode(bytes.subarray(i), { stream: true })),
            ...parser.push(decoder.decode()),
            ...parser.end()
          ]
          expect(events).toEqual(whole)
        }
        // ...and several at once.
        const points = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % (bytes.length + 1))))].sort(
          (a, b) => a - b
        )
        const decoder = new TextDecoder("utf-8", { ignoreBOM: true })
        const parser = makeSseParser()
        const events: Array<SseEvent> = []
        let from = 0
        for (const point of [...points, bytes.length]) {
          events.push(...parser.push(decoder.decode(bytes.subarray(from, point), { stream: true })))
          from = point
        }
        events.push(...parser.push(decoder.decode()), ...parser.end())
        expect(events).toEqual(whole)
      }),
      { numRuns: 300 }
    )
  })
})
