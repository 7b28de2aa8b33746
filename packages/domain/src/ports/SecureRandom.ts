import { Context, Effect, Layer } from "effect"

export interface SecureRandomShape {
  /** Cryptographically secure random bytes. */
  readonly bytes: (n: number) => Effect.Effect<Uint8Array>
}

export class SecureRandom extends Context.Tag("@ibex/domain/SecureRandom")<SecureRandom, SecureRandomShape>() {}

interface WebCrypto {
  getRandomValues<T extends Uint8Array>(array: T): T
}

/** The Web Crypto CSPRNG that every supported runtime exposes as `globalThis.crypto`. */
export const SecureRandomWebCrypto = Layer.sync(SecureRandom, () => {
  const crypto = (globalThis as unknown as { crypto: WebCrypto }).crypto
  return {
    bytes: (n) => Effect.sync(() => crypto.getRandomValues(new Uint8Array(n)))
  }
})
