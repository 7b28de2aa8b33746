import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Fiber, Stream } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { changeSignals } from "../src/fileWatch.js"

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** Counts the ticks `changeSignals` gives while `act` runs (the poll is pushed out of the window). */
const ticksDuring = async (path: string, act: () => Promise<void>) => {
  let ticks = 0
  const fiber = Effect.runFork(
    Stream.runForEach(changeSignals(path, { pollIntervalMs: 60_000, debounceMs: 20 }), () =>
      Effect.sync(() => {
        ticks++
      })
    )
  )
  await new Promise((r) => setTimeout(r, 100))
  const before = ticks
  await act()
  await new Promise((r) => setTimeout(r, 150))
  await Effect.runPromise(Fiber.interrupt(fiber))
  return { startup: before, during: ticks - before }
}

const pause = () => new Promise((r) => setTimeout(r, 5))

describe("changeSignals: what wakes the routing file's reader", () => {
  it("writes to another file in the same directory (a log file beside the routes file) wake nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ibex-watch-"))
    dirs.push(dir)
    const routes = join(dir, "routes.json")
    writeFileSync(routes, "{}")
    const { startup, during } = await ticksDuring(routes, async () => {
      for (let i = 0; i < 100; i++) {
        writeFileSync(join(dir, "proxy.log"), `line ${i}\n`, { flag: "a" })
        await pause()
      }
    })
    expect(startup, "each watcher ticks once when it starts").toBe(1)
    expect(during).toBe(0)
  })

  it("a write to the routes file, or a Kubernetes ..data swap beside it, wakes the reader (debounced)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ibex-watch-"))
    dirs.push(dir)
    const routes = join(dir, "routes.json")
    writeFileSync(routes, "{}")
    const edit = await ticksDuring(routes, async () => {
      for (let i = 0; i < 5; i++) writeFileSync(routes, `{"n":${i}}`)
    })
    expect(edit.during, "a burst of writes is one tick").toBe(1)
    const swap = await ticksDuring(routes, async () => {
      writeFileSync(join(dir, "..data"), "x")
    })
    expect(swap.during).toBe(1)
  })
})
