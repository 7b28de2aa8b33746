import { describe, expect, it } from "@effect/vitest"
import {
  ADMIN_CREDENTIAL_LENGTH,
  formatAdminCredential,
  formatPat,
  PlatformAdmin,
  type PlatformAdminId,
  PlatformAdminStore,
  parseAdminCredential,
  SecretHasher,
  secretFromBytes,
  type TokenId,
  uuidFromBytes
} from "@ibex/domain"
import { Effect, Either, Layer, Option, Redacted } from "effect"
import fc from "fast-check"
import { authenticatePlatformAdmin } from "../src/platformAdmin.js"

const adminId = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => uuidFromBytes(b, 4) as PlatformAdminId)
const secretBytes = fc.uint8Array({ minLength: 32, maxLength: 32 })

describe("platform-admin credential format", () => {
  it("format then parse round-trips; a PAT with the same parts never parses", () => {
    fc.assert(
      fc.property(adminId, secretBytes, (id, bytes) => {
        const secret = secretFromBytes(bytes)
        const credential = Redacted.value(formatAdminCredential(id, secret))
        expect(credential).toMatch(/^ibex_padm_[0-9a-f-]{36}_[A-Za-z0-9_-]{43}$/)
        expect(credential).toHaveLength(ADMIN_CREDENTIAL_LENGTH)
        const parsed = Either.getOrThrow(parseAdminCredential(credential))
        expect(parsed.adminId).toBe(id)
        expect(Redacted.value(parsed.secret)).toBe(Redacted.value(secret))
        expect(Either.isLeft(parseAdminCredential(Redacted.value(formatPat(id as unknown as TokenId, secret))))).toBe(
          true
        )
      })
    )
  })

  it("anything else is malformed, never a throw", () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(Either.isLeft(parseAdminCredential(`x${s}`))).toBe(true)
      })
    )
    expect(Either.isLeft(parseAdminCredential("ibex_padm_"))).toBe(true)
  })
})

describe("authenticatePlatformAdmin", () => {
  const id = "0b7c3e0a-1d2e-4f3a-8b4c-5d6e7f8091a2" as PlatformAdminId
  const secret = secretFromBytes(new Uint8Array(32).fill(7))
  const credential = formatAdminCredential(id, secret)
  const setup = (revokedAt: Date | null) => {
    const calls = { verify: 0 }
    const layer = Layer.mergeAll(
      Layer.succeed(PlatformAdminStore, {
        findCredential: (lookup) =>
          Effect.succeed(
            lookup === id
              ? Option.some({
                  admin: new PlatformAdmin({ id, name: "ops", createdAt: new Date(0), revokedAt }),
                  secretHash: `hash:${Redacted.value(secret)}`
                })
              : Option.none()
          ),
        insert: () => Effect.die("unused"),
        list: Effect.succeed([]),
        revoke: () => Effect.die("unused")
      }),
      Layer.succeed(SecretHasher, {
        hash: (s) => Effect.succeed(`hash:${Redacted.value(s)}`),
        verify: (hash, s) =>
          Effect.sync(() => {
            calls.verify++
            return hash === `hash:${Redacted.value(s)}`
          })
      })
    )
    return { calls, layer }
  }
  const reason = (r: Redacted.Redacted<string>, layer: Layer.Layer<PlatformAdminStore | SecretHasher>) =>
    authenticatePlatformAdmin(r).pipe(
      Effect.map((actor) => actor.kind),
      Effect.catchTag("InvalidToken", (e) => Effect.succeed(e.reason)),
      Effect.provide(layer)
    )

  it.effect(
    "the right credential is a platform_admin actor; wrong secret, unknown id, a PAT, revoked are refused",
    () =>
      Effect.gen(function* () {
        const { calls, layer } = setup(null)
        expect(yield* reason(credential, layer)).toBe("platform_admin")
        expect(yield* reason(formatAdminCredential(id, secretFromBytes(new Uint8Array(32).fill(8))), layer)).toBe(
          "wrong_secret"
        )
        const before = calls.verify
        expect(
          yield* reason(formatAdminCredential("1b7c3e0a-1d2e-4f3a-8b4c-5d6e7f8091a2" as PlatformAdminId, secret), layer)
        ).toBe("unknown")
        expect(yield* reason(formatPat(id as unknown as TokenId, secret), layer)).toBe("malformed")
        expect(calls.verify, "unknown ids and malformed input never reach the hasher").toBe(before)
        expect(yield* reason(credential, setup(new Date(0)).layer)).toBe("revoked")
      })
  )
})
