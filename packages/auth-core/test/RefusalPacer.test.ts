import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope } from "effect"
import { makeRefusalPacer } from "../src/RefusalPacer.js"

/** Counts turns of the event loop: +1 in every check phase (where setImmediate callbacks run). */
const loopTurns = () => {
  let turns = 0
  let on = true
  const tick = () => {
    turns++
    if (on) setImmediate(tick)
  }
  setImmediate(tick)
  return {
    now: () => turns,
    stop: () => {
      on = false
    }
  }
}

describe("RefusalPacer", () => {
  it.scoped("a crowd due at once is woken a batch per turn of the event loop, each never before its time", () =>
    Effect.gen(function* () {
      const pacer = yield* makeRefusalPacer(10)
      const turns = loopTurns()
      const at = performance.now() + 20
      const woken: Array<{ turn: number; early: number }> = []
      yield* Effect.forEach(
        Array.from({ length: 100 }, (_, i) => i),
        () =>
          Effect.andThen(pacer.sleepUntil(at), () => {
            woken.push({ turn: turns.now(), early: at - performance.now() })
          }),
        { concurrency: "unbounded", discard: true }
      )
      turns.stop()
      expect(woken).toHaveLength(100)
      expect(woken.every((w) => w.early <= 0)).toBe(true)
      const perTurn = new Map<number, number>()
      for (const w of woken) perTurn.set(w.turn, (perTurn.get(w.turn) ?? 0) + 1)
      // One timer per waiter would wake all 100 in the same timers phase: one turn.
      expect(Math.max(...perTurn.values())).toBeLessThanOrEqual(10)
      expect(perTurn.size).toBeGreaterThanOrEqual(10)
      expect(pacer.parked()).toBe(0)
    })
  )

  it.scoped("waiters due at different times wake in time order, each at or after its own time", () =>
    Effect.gen(function* () {
      const pacer = yield* makeRefusalPacer(4)
      const start = performance.now()
      // Parked out of order: the pacer's timer follows the earliest.
      const offsets = [40, 5, 25, 15, 35, 10, 30, 20]
      const order: Array<number> = []
      yield* Effect.forEach(
        offsets,
        (ms) =>
          Effect.andThen(pacer.sleepUntil(start + ms), () => {
            expect(performance.now()).toBeGreaterThanOrEqual(start + ms)
            order.push(ms)
          }),
        { concurrency: "unbounded", discard: true }
      )
      expect(order).toEqual([...offsets].sort((a, b) => a - b))
    })
  )

  it.scoped("an interrupted waiter is never woken and takes no place in a batch", () =>
    Effect.gen(function* () {
      const pacer = yield* makeRefusalPacer(1)
      const at = performance.now() + 15
      let leftWoke = false
      const left = yield* Effect.fork(
        Effect.andThen(pacer.sleepUntil(at), () => {
          leftWoke = true
        })
      )
      const stays = yield* Effect.fork(pacer.sleepUntil(at + 1))
      yield* Effect.yieldNow()
      expect(pacer.parked()).toBe(2)
      yield* Fiber.interrupt(left)
      expect(pacer.parked()).toBe(1)
      yield* Fiber.join(stays)
      expect(leftWoke).toBe(false)
      expect(pacer.parked()).toBe(0)
    })
  )

  it.effect("its timer goes with its scope: a closed pacer leaves nothing to keep the process alive", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const pacer = yield* Scope.extend(makeRefusalPacer(8), scope)
      const waiter = yield* Effect.fork(pacer.sleepUntil(performance.now() + 60_000))
      yield* Effect.yieldNow()
      const handles = () =>
        (process as unknown as { getActiveResourcesInfo: () => Array<string> })
          .getActiveResourcesInfo()
          .filter((r) => r === "Timeout").length
      const withTimer = handles()
      yield* Scope.close(scope, Exit.void)
      expect(handles()).toBe(withTimer - 1)
      yield* Fiber.interrupt(waiter)
    })
  )
})
