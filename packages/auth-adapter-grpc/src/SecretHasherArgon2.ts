import { SecretHasher } from "@ibex/domain"
import * as argon2 from "argon2"
import { Effect, Layer, Redacted } from "effect"

/** Argon2id cost parameters for new hashes. Verification reads the parameters from the PHC string instead. */
export interface Argon2Options {
  /** Memory in KiB. Default 19456 (19 MiB, OWASP's minimum for Argon2id). */
  readonly memoryKib: number
  /** Iterations. Default 2. */
  readonly timeCost: number
  /** Lanes. Default 1. */
  readonly parallelism: number
}

/** OWASP's minimum for Argon2id: m=19456 KiB, t=2, p=1 (~36 ms per verify on these machines). */
export const defaultArgon2Options: Argon2Options = { memoryKib: 19_456, timeCost: 2, parallelism: 1 }

/**
 * SecretHasher on the `argon2` npm package (Argon2id). The native binding runs each hash on
 * libuv's thread pool, so the event loop keeps serving while one runs; the domain's
 * TokenValidator bounds how many run at once and caches verified tokens so that Argon2id
 * runs at most once per token per cache lifetime.
 *
 * `verify` accepts hashes made with any parameters (the PHC string carries them) and answers
 * false, never an error, for a mismatch or a string that is not an Argon2 hash.
 */
export const makeSecretHasherArgon2 = (options: Partial<Argon2Options> = {}) => {
  const params = { ...defaultArgon2Options, ...options }
  return SecretHasher.of({
    hash: (secret) =>
      Effect.tryPromise(() =>
        argon2.hash(Redacted.value(secret), {
          type: argon2.argon2id,
          memoryCost: params.memoryKib,
          timeCost: params.timeCost,
          parallelism: params.parallelism
        })
      ).pipe(
        // Only a resource failure can land here (out of memory, bad parameters): a defect, without the secret.
        Effect.orDieWith(() => new Error("argon2 hash failed")),
        Effect.withSpan("SecretHasher.hash")
      ),
    verify: (hash, secret) =>
      hash.startsWith("$argon2")
        ? Effect.tryPromise(() => argon2.verify(hash, Redacted.value(secret))).pipe(
            Effect.orElseSucceed(() => false),
            Effect.withSpan("SecretHasher.verify")
          )
        : Effect.succeed(false)
  })
}

export const SecretHasherArgon2 = (options: Partial<Argon2Options> = {}): Layer.Layer<SecretHasher> =>
  Layer.sync(SecretHasher, () => makeSecretHasherArgon2(options))
