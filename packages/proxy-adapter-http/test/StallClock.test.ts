import { describe, expect, it } from "vitest"
import { StallClock } from "../src/auth/StallClock.js"

const busyFor = (ms: number) => {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // a turn that does not return to the event loop
  }
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const until = async (condition: () => boolean) => {
  for (let i = 0; i < 400 && !condition(); i++) await sleep(5)
}

describe("StallClock", () => {
  it("counts a turn that does not return to the loop, beyond one tick", () => {
    const clock = new StallClock(10, 100)
    try {
      expect(clock.stall()).toBe(0)
      busyFor(60)
      expect(clock.stall()).toBeGreaterThanOrEqual(40)
    } finally {
      clock.close()
    }
  })

  it("stops ticking when nobody asks, and a question while stopped restarts it with no stall", async () => {
    const clock = new StallClock(2, 3)
    try {
      clock.stall()
      expect(clock.running).toBe(true)
      await until(() => !clock.running)
      expect(clock.running).toBe(false)
      // Stopped: an idle loop is not a stalled one, and watching alone does not restart it.
      busyFor(30)
      expect(clock.peek()).toBe(0)
      expect(clock.running).toBe(false)
      expect(clock.stall()).toBe(0)
      expect(clock.running).toBe(true)
    } finally {
      clock.close()
    }
  })

  it("keeps ticking while asked", async () => {
    // 50 idle ticks (100 ms) between questions would stop it; the questions come every few ms.
    const clock = new StallClock(2, 50)
    try {
      for (let i = 0; i < 10; i++) {
        clock.stall()
        await sleep(3)
      }
      expect(clock.running).toBe(true)
    } finally {
      clock.close()
    }
  })

  it("once closed, never starts again", () => {
    const clock = new StallClock(10, 100)
    clock.close()
    expect(clock.stall()).toBe(0)
    expect(clock.running).toBe(false)
  })
})
