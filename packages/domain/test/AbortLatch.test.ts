import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { AbortLatch, type AbortSignalLike } from "../src/index.js"

type Op =
  | { readonly op: "add"; readonly listener: number }
  | { readonly op: "remove"; readonly listener: number }
  | { readonly op: "abort"; readonly reason: string }
  | { readonly op: "read" }

const ops = fc.array(
  fc.oneof(
    fc.record({ op: fc.constant("add" as const), listener: fc.integer({ min: 0, max: 3 }) }),
    fc.record({ op: fc.constant("remove" as const), listener: fc.integer({ min: 0, max: 3 }) }),
    fc.record({ op: fc.constant("abort" as const), reason: fc.string({ maxLength: 3 }) }),
    fc.constant({ op: "read" as const })
  ),
  { maxLength: 20 }
)

/** Runs the operations against one signal and returns everything an observer could see. */
const observe = (signal: AbortSignalLike, abort: (reason: string) => void, script: ReadonlyArray<Op>) => {
  const seen: Array<string> = []
  const listeners = [0, 1, 2, 3].map((i) => () => {
    seen.push(`ran ${i}`)
  })
  for (const step of script) {
    if (step.op === "add") signal.addEventListener("abort", listeners[step.listener] as () => void, { once: true })
    else if (step.op === "remove") signal.removeEventListener("abort", listeners[step.listener] as () => void)
    else if (step.op === "abort") abort(step.reason)
    else seen.push(`aborted=${signal.aborted} reason=${String(signal.reason)}`)
  }
  return seen
}

describe("AbortLatch", () => {
  it("is observably the same as an AbortController's signal for any sequence of adds, removes and aborts", () => {
    fc.assert(
      fc.property(ops, (script) => {
        const controller = new AbortController()
        const latch = new AbortLatch()
        expect(observe(latch, (r) => latch.abort(r), script)).toEqual(
          observe(controller.signal, (r) => controller.abort(r), script)
        )
      }),
      { numRuns: 2_000 }
    )
  })

  it("runs every listener even when one throws, then rethrows the first error", () => {
    const latch = new AbortLatch()
    const ran: Array<number> = []
    latch.addEventListener("abort", () => {
      ran.push(1)
      throw new Error("first")
    })
    latch.addEventListener("abort", () => {
      ran.push(2)
      throw new Error("second")
    })
    latch.addEventListener("abort", () => ran.push(3))
    expect(() => latch.abort("why")).toThrow("first")
    expect(ran).toEqual([1, 2, 3])
    expect({ aborted: latch.aborted, reason: latch.reason }).toEqual({ aborted: true, reason: "why" })
  })

  it("gives an Error as the reason of an abort without one, like AbortController", () => {
    const latch = new AbortLatch()
    latch.abort()
    expect(latch.reason).toBeInstanceOf(Error)
  })
})
