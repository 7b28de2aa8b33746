import { EventEmitter } from "node:events"
import { describe, expect, it } from "vitest"
import { exitAfterShutdownDeadline } from "../src/shutdownDeadline.js"

const harness = (graceMs: number) => {
  const signals = new EventEmitter()
  const exits: Array<number> = []
  const lines: Array<string> = []
  exitAfterShutdownDeadline("test", graceMs, {
    signals: signals as unknown as Pick<NodeJS.Process, "once">,
    exit: (code) => exits.push(code),
    log: (line) => lines.push(line)
  })
  return { signals, exits, lines }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe("exitAfterShutdownDeadline", () => {
  it("exits with 1 and one line once the grace after SIGTERM has passed, not before", async () => {
    const h = harness(80)
    await sleep(120)
    expect(h.exits, "no signal, no deadline").toEqual([])
    h.signals.emit("SIGTERM")
    await sleep(20)
    expect(h.exits, "within the grace").toEqual([])
    await sleep(120)
    expect(h.exits).toEqual([1])
    expect(h.lines.map((l) => JSON.parse(l))).toMatchObject([
      { event: "shutdown_deadline_passed", service: "test", signal: "SIGTERM", grace_ms: 80, level: "ERROR" }
    ])
  })

  it("a second signal does not start a second deadline", async () => {
    const h = harness(40)
    h.signals.emit("SIGINT")
    h.signals.emit("SIGTERM")
    await sleep(120)
    expect(h.exits).toEqual([1])
    expect(h.lines).toHaveLength(1)
  })
})
