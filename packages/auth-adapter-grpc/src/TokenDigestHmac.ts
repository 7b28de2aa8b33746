import { createHmac, createSecretKey } from "node:crypto"
import { TokenDigest } from "@ibex/domain"
import { Layer, Redacted } from "effect"

/** The smallest pepper accepted, in bytes of its UTF-8 text. */
export const MIN_PEPPER_BYTES = 32

/**
 * TokenDigest as HMAC-SHA256(pepper, token), base64url (~2.5 µs). The pepper is a server
 * secret from configuration; it never appears in a log line or an error. Every auth instance
 * of one deployment must share it only if they share page tokens (ListTokens cursors are
 * signed with it too); caches are per instance.
 */
export const makeTokenDigestHmac = (pepper: Redacted.Redacted<string>) => {
  const raw = Buffer.from(Redacted.value(pepper), "utf8")
  if (raw.length < MIN_PEPPER_BYTES) throw new RangeError(`the token pepper must be at least ${MIN_PEPPER_BYTES} bytes`)
  const key = createSecretKey(raw)
  raw.fill(0)
  return TokenDigest.of({
    digest: (token) => createHmac("sha256", key).update(Redacted.value(token), "utf8").digest("base64url")
  })
}

export const TokenDigestHmac = (pepper: Redacted.Redacted<string>): Layer.Layer<TokenDigest> =>
  Layer.sync(TokenDigest, () => makeTokenDigestHmac(pepper))
