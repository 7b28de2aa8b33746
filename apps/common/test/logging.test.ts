import { describe, expect, it } from "vitest"
import { makeLineBuffer } from "../src/logging.js"

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe("makeLineBuffer", () => {
  it("writes nothing synchronously, then every line queued within the cadence in one write, in order", async () => {
    const writes: Array<string> = []
    const lines = makeLineBuffer((t) => writes.push(t), { maxBytes: 1 << 20, everyMs: 20 })
    for (let i = 0; i < 100; i++) lines.writeLine(`line ${i}`)
    await new Promise((r) => setImmediate(r))
    expect(writes).toEqual([])
    await sleep(60)
    expect(writes).toEqual([Array.from({ length: 100 }, (_, i) => `line ${i}\n`).join("")])
    // A line after a flush starts a new cadence.
    lines.writeLine("again")
    await sleep(60)
    expect(writes).toEqual([writes[0], "again\n"])
  })

  it("writes at once when what is queued reaches maxBytes, and the timer does not write it twice", async () => {
    const writes: Array<string> = []
    const lines = makeLineBuffer((t) => writes.push(t), { maxBytes: 30, everyMs: 20 })
    lines.writeLine("a".repeat(10))
    lines.writeLine("b".repeat(10))
    expect(writes).toEqual([])
    lines.writeLine("c".repeat(10))
    expect(writes).toEqual([`${"a".repeat(10)}\n${"b".repeat(10)}\n${"c".repeat(10)}\n`])
    await sleep(60)
    expect(writes).toHaveLength(1)
  })

  it("take hands over what is queued (the exit path) and leaves nothing for the timer", async () => {
    const writes: Array<string> = []
    const lines = makeLineBuffer((t) => writes.push(t), { maxBytes: 1 << 20, everyMs: 20 })
    lines.writeLine("x")
    lines.writeLine("y")
    expect(lines.take()).toBe("x\ny\n")
    expect(lines.take()).toBe("")
    await sleep(60)
    expect(writes).toEqual([])
  })
})
