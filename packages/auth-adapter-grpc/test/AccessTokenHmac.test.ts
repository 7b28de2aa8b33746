import type { AccessClaims, OperatorId, SessionFamilyId } from "@ibex/domain"
import { Effect, Option, Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { makeAccessTokenHmac, parseSessionKeys } from "../src/AccessTokenHmac.js"

const key = (kid: string) => ({ kid, secret: Redacted.make(`${kid}-${"s".repeat(40)}`) })
const claims: AccessClaims = {
  typ: "access",
  sub: "0190a0b0-0000-4000-8000-000000000001" as OperatorId,
  sid: "0190a0b0-0000-4000-8000-000000000002" as SessionFamilyId,
  csrf: "csrf-value",
  exp: Date.now() + 60_000
}
const run = Effect.runSync

describe("AccessTokenHmac (operator access tokens)", () => {
  it("verifies what it signed; refuses a tampered payload or signature, an expired token, another key", () => {
    const signer = makeAccessTokenHmac([key("k1")])
    const token = run(signer.sign(claims))
    expect(Option.getOrThrow(run(signer.verify(token, Date.now())))).toEqual(claims)
    const [v, kid, payload, sig] = Redacted.value(token).split(".") as [string, string, string, string]
    const forged = Buffer.from(JSON.stringify({ ...claims, sub: "0190a0b0-0000-4000-8000-000000000009" })).toString(
      "base64url"
    )
    expect(Option.isNone(run(signer.verify(Redacted.make(`${v}.${kid}.${forged}.${sig}`), Date.now())))).toBe(true)
    expect(Option.isNone(run(signer.verify(Redacted.make(`${v}.${kid}.${payload}.${sig}x`), Date.now())))).toBe(true)
    expect(Option.isNone(run(signer.verify(token, claims.exp + 1)))).toBe(true)
    expect(Option.isNone(run(makeAccessTokenHmac([key("k2")]).verify(token, Date.now())))).toBe(true)
    expect(Option.isNone(run(signer.verify(Redacted.make("garbage"), Date.now())))).toBe(true)
  })

  it("key rotation: the first key signs, every listed key verifies, a dropped key no longer does", () => {
    const old = makeAccessTokenHmac([key("old")])
    const oldToken = run(old.sign(claims))
    const rotated = makeAccessTokenHmac([key("new"), key("old")])
    expect(Option.isSome(run(rotated.verify(oldToken, Date.now())))).toBe(true)
    const newToken = run(rotated.sign(claims))
    expect(Redacted.value(newToken).split(".")[1]).toBe("new")
    const dropped = makeAccessTokenHmac([key("new")])
    expect(Option.isSome(run(dropped.verify(newToken, Date.now())))).toBe(true)
    expect(Option.isNone(run(dropped.verify(oldToken, Date.now())))).toBe(true)
  })

  it("AUTH_SESSION_KEYS parsing refuses short secrets and bad key ids", () => {
    expect(parseSessionKeys(`a:${"x".repeat(32)},b:${"y".repeat(40)}`)).toHaveLength(2)
    expect(typeof parseSessionKeys("a:short")).toBe("string")
    expect(typeof parseSessionKeys(`bad kid:${"x".repeat(32)}`)).toBe("string")
  })
})
