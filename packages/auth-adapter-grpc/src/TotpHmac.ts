import { createHmac } from "node:crypto"
import { base32Decode, counterBytes, TotpAlgorithm, truncate } from "@ibex/domain"
import { Layer, Redacted } from "effect"

/** HOTP (RFC 4226) with node:crypto's HMAC-SHA1; RFC 6238 (auth-core's verifyTotp) chooses the counter. */
export const totpHmac = TotpAlgorithm.of({
  code: (secret, counter) => {
    const key = base32Decode(Redacted.value(secret))
    if (key === undefined || key.length === 0) return "invalid"
    return truncate(createHmac("sha1", key).update(counterBytes(counter)).digest())
  }
})

export const TotpHmac: Layer.Layer<TotpAlgorithm> = Layer.succeed(TotpAlgorithm, totpHmac)
