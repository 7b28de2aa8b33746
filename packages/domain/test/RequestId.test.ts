import { describe, expect, it } from "@effect/vitest"
import { Option } from "effect"
import fc from "fast-check"
import { uuidFromBytes } from "../src/ids.js"
import { parseInboundRequestId, uuidv7, uuidv7FromHex, uuidv7Millis } from "../src/RequestId.js"

const bytes16 = fc.uint8Array({ minLength: 16, maxLength: 16 })
const dashAt = [8, 13, 18, 23]

/** UUID-shaped text: 32 random hex digits, any version and variant nibble, each character in either case. */
const uuidShaped = fc
  .record({
    bytes: bytes16,
    version: fc.integer({ min: 0, max: 15 }),
    variant: fc.integer({ min: 0, max: 15 }),
    upper: fc.array(fc.boolean(), { minLength: 36, maxLength: 36 })
  })
  .map(({ bytes, version, variant, upper }) => {
    const hex = [...bytes].map((x) => x.toString(16).padStart(2, "0"))
    const digits = hex.join("").split("")
    digits[12] = version.toString(16)
    digits[16] = variant.toString(16)
    const h = digits.join("")
    const lower = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
    const text = [...lower].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join("")
    return { text, version, variant }
  })

/** Characters that are not hex digits (nor the dash), for breaking an id. */
const breakers = ["g", "G", "z", "-", " ", "\r", "\n", "{", "\u00e9", "\u0000", "\u2013"]

/** What the parser must accept, written without a regular expression. */
const isV4OrV7 = (s: string): boolean => {
  if (s.length !== 36) return false
  const t = s.toLowerCase()
  for (let i = 0; i < 36; i++) {
    const c = t[i] as string
    if (dashAt.includes(i)) {
      if (c !== "-") return false
    } else if (!"0123456789abcdef".includes(c)) return false
  }
  return (t[14] === "4" || t[14] === "7") && "89ab".includes(t[19] as string)
}

describe("request ids", () => {
  it("accepts every v4 and v7, in any case, normalised to lowercase", () => {
    fc.assert(
      fc.property(bytes16, fc.constantFrom(4 as const, 7 as const), fc.boolean(), (b, v, upper) => {
        const id = uuidFromBytes(b, v)
        const inbound = upper ? id.toUpperCase() : id
        expect(Option.getOrThrow(parseInboundRequestId(inbound))).toBe(id)
      })
    )
  })

  it("of UUID-shaped text in any case, accepts exactly versions 4 and 7 with the RFC 9562 variant", () => {
    let accepted = 0
    let refused = 0
    fc.assert(
      fc.property(uuidShaped, ({ text, version, variant }) => {
        const parsed = parseInboundRequestId(text)
        const valid = (version === 4 || version === 7) && variant >= 8 && variant <= 11
        expect(Option.isSome(parsed), `${text} (version ${version}, variant ${variant})`).toBe(valid)
        if (Option.isSome(parsed)) {
          expect(parsed.value).toBe(text.toLowerCase())
          accepted++
        } else refused++
      }),
      { numRuns: 500 }
    )
    // Both answers were exercised (each has probability > 1/8 per run).
    expect(accepted).toBeGreaterThan(0)
    expect(refused).toBeGreaterThan(0)
  })

  it("refuses a valid id with one character broken, added or removed", () => {
    fc.assert(
      fc.property(
        bytes16,
        fc.constantFrom(4 as const, 7 as const),
        fc.nat({ max: 35 }),
        fc.constantFrom("replace" as const, "insert" as const, "delete" as const),
        fc.constantFrom(...breakers),
        (b, v, at, kind, c) => {
          const id = uuidFromBytes(b, v)
          expect(Option.isSome(parseInboundRequestId(id))).toBe(true)
          const broken =
            kind === "delete"
              ? id.slice(0, at) + id.slice(at + 1)
              : kind === "insert"
                ? id.slice(0, at) + c + id.slice(at)
                : // A dash becomes a hex digit; a hex digit becomes a character that is not one.
                  id.slice(0, at) + (dashAt.includes(at) ? "a" : c) + id.slice(at + 1)
          expect(Option.isNone(parseInboundRequestId(broken)), JSON.stringify(broken)).toBe(true)
        }
      )
    )
  })

  it("refuses any text that is not a v4 / v7 UUID (an independent character-by-character oracle)", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: "binary", maxLength: 60 }), fc.string({ minLength: 36, maxLength: 36 })),
        (s) => {
          expect(Option.isSome(parseInboundRequestId(s)), JSON.stringify(s)).toBe(isV4OrV7(s))
        }
      )
    )
    const v1 = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
    expect(Option.isNone(parseInboundRequestId(v1))).toBe(true)
    expect(Option.isNone(parseInboundRequestId("<script>alert(1)</script>"))).toBe(true)
    expect(Option.isNone(parseInboundRequestId(`${uuidFromBytes(new Uint8Array(16), 4)}\r\nX-Evil: 1`))).toBe(true)
    expect(Option.isNone(parseInboundRequestId(undefined))).toBe(true)
    expect(Option.isNone(parseInboundRequestId(""))).toBe(true)
  })

  it("generates v7 ids that carry their time and are accepted", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 47 }), fc.uint8Array({ minLength: 10, maxLength: 10 }), (ms, r) => {
        const id = uuidv7(ms, r)
        expect(Option.getOrThrow(parseInboundRequestId(id))).toBe(id)
        expect(uuidv7Millis(id)).toBe(ms)
      })
    )
  })

  it("builds the same v7 id from the random bytes' hex digits as from the bytes", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 47 }), fc.uint8Array({ minLength: 10, maxLength: 10 }), (ms, r) => {
        const hex = Buffer.from(r).toString("hex")
        // Twice: the second call reuses the millisecond's cached prefix.
        expect(uuidv7FromHex(ms, hex)).toBe(uuidv7(ms, r))
        expect(uuidv7FromHex(ms, hex)).toBe(uuidv7(ms, r))
      })
    )
  })
})
