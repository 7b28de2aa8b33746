import { describe, expect, it } from "@effect/vitest"
import type { OrgId, TokenDigestShape } from "@ibex/domain"
import { Effect, Either, Redacted } from "effect"
import { constantTimeEquals, decodePageToken, encodePageToken } from "../src/PageToken.js"

// A keyed digest stand-in: the page token's rules do not depend on which MAC the service uses.
const digest: TokenDigestShape = {
  digest: (value) => {
    let h = 2166136261
    for (const c of `key\u0000${Redacted.value(value)}`) h = Math.imul(h ^ c.charCodeAt(0), 16777619)
    return (h >>> 0).toString(16).padStart(8, "0")
  }
}
const orgA = "0190a000-0000-7000-8000-00000000000a" as OrgId
const orgB = "0190b000-0000-7000-8000-00000000000b" as OrgId

describe("page tokens", () => {
  it.effect("round-trips a cursor for the org it was issued to; '' is the first page", () =>
    Effect.gen(function* () {
      const token = encodePageToken(digest, orgA, "2026-11-29T10:00:00.000Z|0190")
      expect(yield* decodePageToken(digest, orgA, token)).toBe("2026-11-29T10:00:00.000Z|0190")
      expect(yield* decodePageToken(digest, orgA, "")).toBeNull()
    })
  )

  it.effect("refuses another org's token, a tampered cursor or MAC, and garbage", () =>
    Effect.gen(function* () {
      const token = encodePageToken(digest, orgA, "cursor-1")
      const [cursor, mac] = token.split(".") as [string, string]
      const forged = encodePageToken(digest, orgA, "cursor-2").split(".")[0]
      for (const bad of [
        token.replace(/.$/, (c) => (c === "0" ? "1" : "0")),
        `${forged}.${mac}`,
        `${cursor}.${mac}.x`,
        "not-a-token",
        `%%%.${mac}`,
        "a".repeat(2000)
      ]) {
        const result = yield* Effect.either(decodePageToken(digest, orgA, bad))
        expect(Either.isLeft(result) && result.left._tag).toBe("ValidationFailed")
      }
      const otherOrg = yield* Effect.either(decodePageToken(digest, orgB, token))
      expect(Either.isLeft(otherOrg)).toBe(true)
    })
  )

  it("compares MACs by value over their whole length", () => {
    expect(constantTimeEquals("abcd", "abcd")).toBe(true)
    expect(constantTimeEquals("abcd", "abce")).toBe(false)
    expect(constantTimeEquals("abcd", "abc")).toBe(false)
    expect(constantTimeEquals("", "")).toBe(true)
  })
})
