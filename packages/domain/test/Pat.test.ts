import { describe, expect, it } from "@effect/vitest"
import { Either, Redacted } from "effect"
import fc from "fast-check"
import { decodeBase64Url, encodeBase64Url } from "../src/base64url.js"
import { type TokenId, uuidFromBytes } from "../src/ids.js"
import { displayPrefix, formatPat, PAT_LENGTH, parsePat, secretFromBytes } from "../src/Pat.js"

const tokenId = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => uuidFromBytes(b, 4) as TokenId)
const secretBytes = fc.uint8Array({ minLength: 32, maxLength: 32 })

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

  it("parse is total: any string gives a PAT or a MalformedPat, never a throw", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => {
        const r = parsePat(s)
        expect(Either.isLeft(r) || Either.isRight(r)).toBe(true)
      })
    )
    fc.assert(
      fc.property(fc.string({ minLength: 0, maxLength: 120 }), (tail) => {
        const r = parsePat(`ibex_pat_${tail}`)
        if (Either.isRight(r))
          expect(Redacted.value(formatPat(r.right.tokenId, r.right.secret))).toBe(`ibex_pat_${tail}`)
      })
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
