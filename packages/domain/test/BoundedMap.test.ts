import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { BoundedMap } from "../src/BoundedMap.js"

describe("BoundedMap", () => {
  it("never holds more than max entries and drops the oldest insertion first", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 200 }),
        (max, keys) => {
          const evicted: Array<number> = []
          const map = new BoundedMap<number, number>(max, (k) => evicted.push(k))
          const model: Array<number> = []
          for (const k of keys) {
            map.set(k, k * 2)
            const at = model.indexOf(k)
            if (at !== -1) model.splice(at, 1)
            else if (model.length >= max) expect(evicted.at(-1)).toBe(model.shift())
            model.push(k)
            expect(map.size).toBeLessThanOrEqual(max)
          }
          expect([...map.keys()]).toEqual(model)
          for (const k of model) expect(map.get(k)).toBe(k * 2)
        }
      )
    )
  })

  it("deleteWhere removes exactly the matching entries", () => {
    const map = new BoundedMap<string, number>(10)
    for (const [k, v] of [
      ["a", 1],
      ["b", 2],
      ["c", 3],
      ["d", 4]
    ] as const)
      map.set(k, v)
    expect(map.deleteWhere((v) => v % 2 === 0)).toBe(2)
    expect([...map.keys()]).toEqual(["a", "c"])
  })

  it("refuses a bound below one", () => {
    expect(() => new BoundedMap(0)).toThrow(RangeError)
  })
})
