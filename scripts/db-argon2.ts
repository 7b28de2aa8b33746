import { SecretHasher } from "@ibex/domain"
import argon2 from "argon2"
import { Effect, Layer, Redacted } from "effect"

/**
 * Argon2id for the seed script: OWASP's minimum (m = 19 MiB, t = 2, p = 1), ~36 ms per hash on
 * these machines (DESIGN.md). The service's hasher lives in auth-adapter-grpc; this one exists
 * so the seed does not depend on an adapter. Same PHC output, so either verifies the other's hashes.
 */
export const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const

export const SecretHasherArgon2 = Layer.succeed(
  SecretHasher,
  SecretHasher.of({
    hash: (secret) => Effect.promise(() => argon2.hash(Redacted.value(secret), ARGON2_OPTIONS)),
    verify: (hash, secret) =>
      Effect.tryPromise(() => argon2.verify(hash, Redacted.value(secret))).pipe(Effect.orElseSucceed(() => false))
  })
)
