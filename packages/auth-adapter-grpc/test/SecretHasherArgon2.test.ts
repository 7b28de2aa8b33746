import { Effect, Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { makeSecretHasherArgon2, makeTokenDigestHmac } from "../src/index.js"

const secret = Redacted.make("s3cret-value-of-a-token-xxxxxxxxxxxxxxxxxxx")

describe("SecretHasherArgon2", () => {
  it("hashes with Argon2id and OWASP-minimum parameters by default, and verifies", async () => {
    const hasher = makeSecretHasherArgon2()
    const hash = await Effect.runPromise(hasher.hash(secret))
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/)
    expect(await Effect.runPromise(hasher.verify(hash, secret))).toBe(true)
    expect(await Effect.runPromise(hasher.verify(hash, Redacted.make("other")))).toBe(false)
  })

  it("verifies hashes made with other parameters, and answers false for garbage", async () => {
    const cheap = makeSecretHasherArgon2({ memoryKib: 8192, timeCost: 1, parallelism: 2 })
    const hash = await Effect.runPromise(cheap.hash(secret))
    expect(hash).toContain("m=8192,p=2,t=1")
    const standard = makeSecretHasherArgon2()
    expect(await Effect.runPromise(standard.verify(hash, secret))).toBe(true)
    for (const bad of ["", "$argon2id$broken", "$memhash$a$b", "plain"])
      expect(await Effect.runPromise(standard.verify(bad, secret))).toBe(false)
  })

  it("runs off the event loop: timers keep firing while hashes run", async () => {
    const hasher = makeSecretHasherArgon2()
    let ticks = 0
    const timer = setInterval(() => ticks++, 1)
    const started = performance.now()
    await Effect.runPromise(
      Effect.all([hasher.hash(secret), hasher.hash(secret), hasher.hash(secret)], { concurrency: 1 })
    )
    const elapsed = performance.now() - started
    clearInterval(timer)
    // Blocking hashes would let ~0 ticks through; off-loop ones let roughly one per ms (timers are coarse under load).
    expect(ticks).toBeGreaterThan(elapsed / 10)
  })
})

describe("TokenDigestHmac", () => {
  it("is a keyed, deterministic digest that depends on the pepper", () => {
    const a = makeTokenDigestHmac(Redacted.make("a".repeat(32)))
    const b = makeTokenDigestHmac(Redacted.make("b".repeat(32)))
    const token = Redacted.make("ibex_pat_token")
    expect(a.digest(token)).toBe(a.digest(token))
    expect(a.digest(token)).not.toBe(b.digest(token))
    expect(a.digest(token)).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(() => makeTokenDigestHmac(Redacted.make("short"))).toThrow(RangeError)
  })
})
