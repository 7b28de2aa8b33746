import { describe, expect, it } from "vitest"
import { base32Decode, base32Encode, counterBytes, totpCounter, truncate } from "../src/index.js"

describe("TOTP arithmetic (RFC 4226 / 6238, RFC 4648 base32)", () => {
  it("base32 round-trips and decodes RFC 4648's vectors", () => {
    expect(base32Encode(new TextEncoder().encode("foobar"))).toBe("MZXW6YTBOI")
    expect(new TextDecoder().decode(base32Decode("MZXW6YTBOI"))).toBe("foobar")
    expect(base32Decode("not base32!")).toBeUndefined()
  })

  it("counters are 30 s steps as 8 big-endian bytes", () => {
    expect(totpCounter(59_000)).toBe(1)
    expect([...counterBytes(0x0102030405)]).toEqual([0, 0, 0, 1, 2, 3, 4, 5])
  })

  it("dynamic truncation matches RFC 4226's worked example", () => {
    const digest = Uint8Array.from(
      "1f8698690e02ca16618550ef7f19da8e945b555a".match(/../g)?.map((h) => Number.parseInt(h, 16)) ?? []
    )
    expect(truncate(digest)).toBe("872921")
  })
})
