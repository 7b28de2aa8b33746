import { Context, type Effect, type Redacted } from "effect"

export interface SecretHasherShape {
  /** An Argon2id PHC string for the secret. Slow on purpose (tens to hundreds of ms here). */
  readonly hash: (secret: Redacted.Redacted<string>) => Effect.Effect<string>
  /** Constant-time comparison inside the hasher; false for any mismatch or unparseable hash. */
  readonly verify: (hash: string, secret: Redacted.Redacted<string>) => Effect.Effect<boolean>
}

export class SecretHasher extends Context.Tag("@ibex/domain/SecretHasher")<SecretHasher, SecretHasherShape>() {}

export interface TokenDigestShape {
  /**
   * A fast keyed digest of a whole token (HMAC-SHA256 with a server pepper, ~2.5 µs): the key of
   * the verified-token cache, so a cache hit proves possession of the exact token without Argon2id.
   */
  readonly digest: (token: Redacted.Redacted<string>) => string
}

export class TokenDigest extends Context.Tag("@ibex/domain/TokenDigest")<TokenDigest, TokenDigestShape>() {}
