import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { makeUsageShipper, UsageRecord } from "../src/index.js"

const record = (i: number) =>
  new UsageRecord({
    requestId: `req-${i}`,
    orgId: "0190a0b0-0000-7000-8000-000000000001",
    agentId: "0190a0b0-0000-7000-8000-0000000000a1",
    tokenId: "0190a0b0-0000-7000-8000-0000000000f1",
    model: "m",
    provider: "p",
    upstreamModel: "u",
    promptTokens: i,
    completionTokens: 1,
    cachedTokens: 0,
    estimated: false,
    costMicroUsd: 10,
    status: 200,
    latencyMs: 1,
    timeToFirstTokenMs: null,
    stream: false,
    createdAt: new Date(0)
  })

/** A store that refuses while `down` is set and records what it accepted, once per request id. */
const fakeStore = () => {
  const stored = new Map<string, number>()
  let sends = 0
  const state = { down: false }
  return {
    state,
    stored,
    sends: () => sends,
    send: (batch: ReadonlyArray<UsageRecord>) =>
      Effect.suspend(() => {
        sends++
        if (state.down) return Effect.fail("unreachable")
        for (const r of batch) stored.set(r.requestId, (stored.get(r.requestId) ?? 0) + 1)
        return Effect.void
      })
  }
}

const options = {
  maxBuffered: 1_000,
  batchSize: 50,
  flushIntervalMs: 10,
  retryBaseMs: 5,
  retryMaxMs: 40,
  closeDeadlineMs: 2_000
}

describe("UsageShipper", () => {
  it.live("loses nothing while the store is down, then delivers everything once it is back", () =>
    Effect.gen(function* () {
      const store = fakeStore()
      const scope = yield* Scope.make()
      const shipper = yield* makeUsageShipper({ ...options, send: store.send }).pipe(Scope.extend(scope))
      store.state.down = true
      for (let i = 0; i < 500; i++) shipper.offer(record(i))
      yield* Effect.sleep("150 millis")
      expect(store.stored.size).toBe(0)
      expect(store.sends()).toBeGreaterThan(1)
      expect(shipper.pending()).toBe(500)
      store.state.down = false
      for (let i = 0; i < 100 && shipper.pending() > 0; i++) yield* Effect.sleep("20 millis")
      expect(shipper.pending()).toBe(0)
      expect(store.stored.size).toBe(500)
      expect([...store.stored.values()].every((n) => n === 1)).toBe(true)
      yield* Scope.close(scope, Exit.void)
    })
  )

  it.live("past the bound, new records are dropped and counted", () =>
    Effect.gen(function* () {
      const store = fakeStore()
      store.state.down = true
      const dropped: Array<number> = []
      const scope = yield* Scope.make()
      const shipper = yield* makeUsageShipper({
        ...options,
        maxBuffered: 100,
        send: store.send,
        onDropped: (n) => dropped.push(n)
      }).pipe(Scope.extend(scope))
      for (let i = 0; i < 130; i++) shipper.offer(record(i))
      expect(shipper.pending()).toBe(100)
      expect(shipper.dropped()).toBe(30)
      expect(dropped.length).toBe(30)
      store.state.down = false
      yield* Scope.close(scope, Exit.void)
      expect([...store.stored.keys()].sort()).toEqual(Array.from({ length: 100 }, (_, i) => `req-${i}`).sort())
    })
  )

  it.live("closing sends what is left (a partial batch that has not waited its interval yet)", () =>
    Effect.gen(function* () {
      const store = fakeStore()
      const scope = yield* Scope.make()
      const shipper = yield* makeUsageShipper({ ...options, flushIntervalMs: 60_000, send: store.send }).pipe(
        Scope.extend(scope)
      )
      for (let i = 0; i < 7; i++) shipper.offer(record(i))
      yield* Scope.close(scope, Exit.void)
      expect(store.stored.size).toBe(7)
    })
  )
})
