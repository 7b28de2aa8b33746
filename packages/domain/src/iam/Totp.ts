/**
 * TOTP (RFC 6238) arithmetic that needs no cryptography: counters, base32 (RFC 4648), the
 * otpauth URI. The HMAC itself is the TotpAlgorithm port's (node:crypto in its adapter).
 */
export const TOTP_PERIOD_SECONDS = 30
export const TOTP_DIGITS = 6
/** Codes of the previous and next step are accepted too (clock skew). */
export const TOTP_WINDOW = 1

export const totpCounter = (nowMs: number, period = TOTP_PERIOD_SECONDS): number => Math.floor(nowMs / 1000 / period)

/** RFC 4226 dynamic truncation of an HMAC-SHA1 digest to `digits` decimal digits. */
export const truncate = (digest: Uint8Array, digits = TOTP_DIGITS): string => {
  const offset = (digest[digest.length - 1] ?? 0) & 0x0f
  const binary =
    (((digest[offset] ?? 0) & 0x7f) << 24) |
    (((digest[offset + 1] ?? 0) & 0xff) << 16) |
    (((digest[offset + 2] ?? 0) & 0xff) << 8) |
    ((digest[offset + 3] ?? 0) & 0xff)
  return String(binary % 10 ** digits).padStart(digits, "0")
}

/** The 8-byte big-endian counter HOTP signs. */
export const counterBytes = (counter: number): Uint8Array => {
  const out = new Uint8Array(8)
  let n = counter
  for (let i = 7; i >= 0; i--) {
    out[i] = n % 256
    n = Math.floor(n / 256)
  }
  return out
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

export const base32Encode = (bytes: Uint8Array): string => {
  let bits = 0
  let value = 0
  let out = ""
  for (const byte of bytes) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31]
  return out
}

export const base32Decode = (text: string): Uint8Array | undefined => {
  const clean = text.replace(/=+$/, "").toUpperCase()
  let bits = 0
  let value = 0
  const out: Array<number> = []
  for (const c of clean) {
    const idx = ALPHABET.indexOf(c)
    if (idx === -1) return undefined
    value = (value << 5) | idx
    bits += 5
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255)
      bits -= 8
    }
  }
  return new Uint8Array(out)
}

export const isTotpCode = (code: string): boolean => /^[0-9]{6}$/.test(code)

export const otpauthUri = (issuer: string, account: string, secretBase32: string): string =>
  `otpauth://totp/${encodeURIComponent(issuer)}:${encodeURIComponent(account)}?secret=${secretBase32}&issuer=${encodeURIComponent(issuer)}&algorithm=SHA1&digits=${TOTP_DIGITS}&period=${TOTP_PERIOD_SECONDS}`
