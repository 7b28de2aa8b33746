import { describe, expect, it } from "@effect/vitest"
import { StoreUnavailable, type TokenCredential, type TokenId } from "@ibex/domain"
import { Deferred, Effect, Exit, Scope } from "effect"
import { type LookupResult, makeCredentialBatch } from "../src/CredentialBatch.js"

const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}` as TokenId
const credential = (tokenId: TokenId) => ({ info: { id: tokenId } }) as unknown as TokenCredential

/** A store whose calls wait until the test releases them; it finds even ids only. */
const gatedStore = () =>
  Effect.gen(function* () {
    const calls: Array<{ ids: ReadonlyArray<TokenId>; release: Deferred.Deferred<void, StoreUnavailable> }> = []
    const findCredentials = (ids: ReadonlyArray<TokenId>) =>
      Effect.gen(function* () {
        const release = yield* Deferred.make<void, StoreUnavailable>()
        calls.push({ ids, release })
        yield* Deferred.await(release)
        return ids.filter((x) => Number(x.slice(-12)) % 2 === 0).map(credential)
      })
    return { calls, findCredentials }
  })

/** Every answer each caller got, by the caller's index. */
const answers = () => {
  const got = new Map<number, LookupResult>()
  return { got, to: (i: number) => (r: LookupResult) => void got.set(i, r) }
}
const interrupted = (r: LookupResult | undefined) => r !== undefined && Exit.isInterrupted(r)
const settle = Effect.promise(() => new Promise((r) => setImmediate(r)))

describe("CredentialBatch", () => {
  it.scoped("a lookup goes at once while a slot is free; the ones that wait go together, each id once", () =>
    Effect.gen(function* () {
      const store = yield* gatedStore()
      const batch = yield* makeCredentialBatch(store.findCredentials, { maxBatch: 100, maxInFlight: 1 })
      const { got, to } = answers()
      batch.lookup(id(2), to(0))
      expect(store.calls.map((c) => c.ids)).toEqual([[id(2)]])
      // While the first is out: three ids, one of them asked for twice.
      batch.lookup(id(3), to(1))
      batch.lookup(id(4), to(2))
      batch.lookup(id(4), to(3))
      batch.lookup(id(6), to(4))
      expect(store.calls).toHaveLength(1)
      yield* Deferred.succeed(store.calls[0]!.release, undefined)
      yield* settle
      expect(got.get(0)).toEqual(Exit.succeed(credential(id(2))))
      expect(store.calls.map((c) => c.ids)).toEqual([[id(2)], [id(3), id(4), id(6)]])
      expect(got.size).toBe(1)
      yield* Deferred.succeed(store.calls[1]!.release, undefined)
      yield* settle
      expect(got.get(1)).toEqual(Exit.succeed(undefined))
      for (const i of [2, 3]) expect(got.get(i)).toEqual(Exit.succeed(credential(id(4))))
      expect(got.get(4)).toEqual(Exit.succeed(credential(id(6))))
    })
  )

  it.scoped("no batch holds more than maxBatch ids, and no more than maxInFlight are out at once", () =>
    Effect.gen(function* () {
      const store = yield* gatedStore()
      const batch = yield* makeCredentialBatch(store.findCredentials, { maxBatch: 3, maxInFlight: 2 })
      const { got, to } = answers()
      for (let i = 0; i < 10; i++) batch.lookup(id(i), to(i))
      expect(store.calls.map((c) => c.ids.length)).toEqual([1, 1])
      let released = 0
      while (got.size < 10) {
        const out = store.calls.slice(released)
        expect(out.length).toBeLessThanOrEqual(2)
        for (const c of out) yield* Deferred.succeed(c.release, undefined)
        released += out.length
        yield* settle
      }
      expect(store.calls.map((c) => c.ids.length)).toEqual([1, 1, 3, 3, 2])
      expect(new Set(store.calls.flatMap((c) => c.ids))).toEqual(new Set(Array.from({ length: 10 }, (_, i) => id(i))))
    })
  )

  it.scoped("a failed call answers every caller in its batch with the failure, and the next batch still goes", () =>
    Effect.gen(function* () {
      const store = yield* gatedStore()
      const batch = yield* makeCredentialBatch(store.findCredentials, { maxBatch: 10, maxInFlight: 1 })
      const { got, to } = answers()
      batch.lookup(id(1), to(0))
      batch.lookup(id(2), to(1))
      batch.lookup(id(3), to(2))
      const down = new StoreUnavailable({ operation: "test" })
      yield* Deferred.fail(store.calls[0]!.release, down)
      yield* settle
      expect(got.get(0)).toEqual(Exit.fail(down))
      yield* Deferred.fail(store.calls[1]!.release, down)
      yield* settle
      expect([got.get(1), got.get(2)]).toEqual([Exit.fail(down), Exit.fail(down)])
      batch.lookup(id(4), to(3))
      yield* Deferred.succeed(store.calls[2]!.release, undefined)
      yield* settle
      expect(got.get(3)).toEqual(Exit.succeed(credential(id(4))))
    })
  )

  it.effect("lookups still waiting when the scope closes are answered, as interrupted, and later ones at once", () =>
    Effect.gen(function* () {
      const store = yield* gatedStore()
      const scope = yield* Scope.make()
      const batch = yield* Scope.extend(
        makeCredentialBatch(store.findCredentials, { maxBatch: 10, maxInFlight: 1 }),
        scope
      )
      const { got, to } = answers()
      batch.lookup(id(1), to(0))
      batch.lookup(id(2), to(1))
      yield* Scope.close(scope, Exit.void)
      yield* settle
      expect([0, 1].map((i) => interrupted(got.get(i)))).toEqual([true, true])
      batch.lookup(id(3), to(2))
      expect(interrupted(got.get(2))).toBe(true)
    })
  )
})
