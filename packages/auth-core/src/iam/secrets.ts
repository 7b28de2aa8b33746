import { encodeBase64Url, SecureRandom, TokenDigest } from "@ibex/domain"
import { Effect, Redacted } from "effect"

/** A random opaque secret (`prefix` + 32 bytes base64url) and its keyed digest (what is stored). */
export const newSecret = (prefix: string) =>
  Effect.gen(function* () {
    const random = yield* SecureRandom
    const digest = yield* TokenDigest
    const value = Redacted.make(`${prefix}${encodeBase64Url(yield* random.bytes(32))}`)
    return { value, digest: digest.digest(value) }
  })

export const digestOf = (value: Redacted.Redacted<string>) => Effect.map(TokenDigest, (d) => d.digest(value))

export const randomText = (bytes: number) =>
  Effect.flatMap(SecureRandom, (random) => Effect.map(random.bytes(bytes), encodeBase64Url))

export const REFRESH_PREFIX = "ibex_rt_"
export const RESET_PREFIX = "ibex_rst_"
export const INVITATION_PREFIX = "ibex_inv_"
