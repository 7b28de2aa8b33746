import { describe, expect, it } from "@effect/vitest"
import { Either, Redacted } from "effect"
import fc from "fast-check"
import { decodeBase64Url, encodeBase64Url } from "../src/base64url.js"
import { type TokenId, uuidFromBytes } from "../src/ids.js"
import { displayPrefix, formatPat, PAT_LENGTH, PAT_PREFIX, parsePat, secretFromBytes } from "../src/Pat.js"

const tokenId = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => uuidFromBytes(b, 4) as TokenId)
const secretBytes = fc.uint8Array({ minLength: 32, maxLength: 32 })
/** Every PAT the system can issue: any token id (v4 here), any 32-byte secret. */
const validPat = fc
  .tuple(tokenId, secretBytes)
  .map(([id, bytes]) => Redacted.value(formatPat(id, secretFromBytes(bytes))))

const base64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
const odd = [" ", "!", ".", "+", "/", "=", "\r", "\n", "\u0000", "\u00e9", "{"]

/** Which part of a PAT position `at` is in, and characters that are wrong there. */
const partAt = (at: number, current: string): { part: string; outside: ReadonlyArray<string> } => {
  if (at < PAT_PREFIX.length) return { part: "prefix", outside: [...odd, "I", "x", "-"].filter((c) => c !== current) }
  const inId = at - PAT_PREFIX.length
  if (inId < 36)
    return [8, 13, 18, 23].includes(inId)
      ? { part: "token_id", outside: ["a", "0", "_", ...odd] }
      : { part: "token_id", outside: ["A", "F", "g", "-", "_", ...odd] }
  if (inId === 36) return { part: "separator", outside: ["-", "a", ".", ...odd] }
  return { part: "secret", outside: odd.filter((c) => !base64url.includes(c)) }
}

describe("PAT format", () => {
  it("format then parse round-trips", () => {
    fc.assert(
      fc.property(tokenId, secretBytes, (id, bytes) => {
        const secret = secretFromBytes(bytes)
        const pat = Redacted.value(formatPat(id, secret))
        expect(pat).toMatch(/^ibex_pat_[0-9a-f-]{36}_[A-Za-z0-9_-]{43}$/)
        expect(pat).toHaveLength(PAT_LENGTH)
        const parsed = Either.getOrThrow(parsePat(pat))
        expect(parsed.tokenId).toBe(id)
        expect(Redacted.value(parsed.secret)).toBe(Redacted.value(secret))
        expect(Redacted.value(formatPat(parsed.tokenId, parsed.secret))).toBe(pat)
      })
    )
  })

  it("parse is total and accepts exactly the strings format produces", () => {
    const reasons = ["prefix", "length", "token_id", "separator", "secret"]
    const outcomes = { parsed: 0, refused: 0 }
    fc.assert(
      fc.property(
        fc.oneof(
          validPat,
          validPat.chain((pat) =>
            fc
              .tuple(fc.nat({ max: PAT_LENGTH - 1 }), fc.string({ minLength: 1, maxLength: 1 }))
              .map(([at, c]) => pat.slice(0, at) + c + pat.slice(at + 1))
          ),
          fc.string({ maxLength: 120 }).map((tail) => `ibex_pat_${tail}`),
          fc.string({ unit: "binary" })
        ),
        (s) => {
          const r = parsePat(s)
          if (Either.isRight(r)) {
            outcomes.parsed++
            expect(Redacted.value(formatPat(r.right.tokenId, r.right.secret))).toBe(s)
            expect(r.right.tokenId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
            expect(decodeBase64Url(Redacted.value(r.right.secret))).toHaveLength(32)
          } else {
            outcomes.refused++
            expect(r.left._tag).toBe("MalformedPat")
            expect(reasons).toContain(r.left.reason)
          }
        }
      ),
      { numRuns: 400 }
    )
    // Both answers were exercised: valid PATs make up a quarter of the inputs.
    expect(outcomes.parsed).toBeGreaterThan(0)
    expect(outcomes.refused).toBeGreaterThan(0)
  })

  it("a secret is accepted exactly when it decodes to 32 bytes that encode back to it (canonical base64url)", () => {
    const id = uuidFromBytes(new Uint8Array(16).fill(3), 4)
    const outcomes = { accepted: 0, refused: 0 }
    fc.assert(
      fc.property(
        // Alphabet-only strings (a quarter of them canonical: the last character decides), and the same with one odd character.
        fc.oneof(
          fc.array(fc.constantFrom(...base64url), { minLength: 43, maxLength: 43 }).map((cs) => cs.join("")),
          fc
            .tuple(
              fc.array(fc.constantFrom(...base64url), { minLength: 43, maxLength: 43 }),
              fc.nat({ max: 42 }),
              fc.constantFrom(...odd)
            )
            .map(([cs, at, c]) => cs.map((x, i) => (i === at ? c : x)).join(""))
        ),
        (secret) => {
          const bytes = decodeBase64Url(secret)
          const canonical = bytes !== undefined && bytes.length === 32 && encodeBase64Url(bytes) === secret
          const r = parsePat(`${PAT_PREFIX}${id}_${secret}`)
          expect(Either.isRight(r)).toBe(canonical)
          if (canonical) outcomes.accepted++
          else outcomes.refused++
        }
      ),
      { numRuns: 2_000 }
    )
    expect(outcomes.accepted).toBeGreaterThan(0)
    expect(outcomes.refused).toBeGreaterThan(0)
  })

  it("a valid PAT with one character out of its part's alphabet is refused with that part's reason", () => {
    fc.assert(
      fc.property(validPat, fc.nat({ max: PAT_LENGTH - 1 }), fc.nat(), (pat, at, pick) => {
        const { part, outside } = partAt(at, pat[at] as string)
        const c = outside[pick % outside.length] as string
        const broken = pat.slice(0, at) + c + pat.slice(at + 1)
        const r = parsePat(broken)
        expect(Either.isLeft(r), `${part} at ${at} → ${JSON.stringify(c)}`).toBe(true)
        if (Either.isLeft(r)) expect(r.left.reason).toBe(part)
      })
    )
  })

  it("a valid PAT with a character added or removed after its prefix is refused for its length", () => {
    fc.assert(
      fc.property(
        validPat,
        fc.integer({ min: PAT_PREFIX.length, max: PAT_LENGTH - 1 }),
        fc.boolean(),
        (pat, at, add) => {
          const changed = add ? `${pat.slice(0, at)}a${pat.slice(at)}` : pat.slice(0, at) + pat.slice(at + 1)
          const r = parsePat(changed)
          expect(Either.isLeft(r)).toBe(true)
          if (Either.isLeft(r)) expect(r.left.reason).toBe("length")
        }
      )
    )
  })

  it("rejects near misses with a reason", () => {
    const good = Redacted.value(
      formatPat(uuidFromBytes(new Uint8Array(16).fill(7), 4) as TokenId, secretFromBytes(new Uint8Array(32).fill(9)))
    )
    const reason = (s: string) => Either.match(parsePat(s), { onLeft: (e) => e.reason, onRight: () => "ok" })
    expect(reason(good)).toBe("ok")
    expect(reason("not_a_token")).toBe("prefix")
    expect(reason("ibex_sk_unknowntoken")).toBe("prefix")
    expect(reason(`${good}x`)).toBe("length")
    expect(reason(good.toUpperCase())).toBe("prefix")
    expect(reason(`${good.replace("ibex_pat_", "ibex_pat_").slice(0, 9)}G${good.slice(10)}`)).toBe("token_id")
    expect(reason(`${good.slice(0, 45)}-${good.slice(46)}`)).toBe("separator")
    expect(reason(`${good.slice(0, -1)}!`)).toBe("secret")
    // A non-canonical final character (padding bits set) is refused so every token has one spelling.
    expect(reason(`${good.slice(0, -1)}B`)).toBe("secret")
  })

  it("display prefix shows only the id's first 8 characters", () => {
    const id = "0123abcd-0000-4000-8000-000000000000" as TokenId
    expect(displayPrefix(id)).toBe("ibex_pat_0123abcd")
  })

  it("base64url encode/decode round-trip", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        expect(decodeBase64Url(encodeBase64Url(bytes))).toEqual(bytes)
      })
    )
  })
})
