import { Data, Either, Redacted } from "effect"
import { encodeBase64Url } from "./base64url.js"
import { isCanonicalUuid, type TokenId } from "./ids.js"

/**
 * Personal access tokens: `ibex_pat_<uuid>_<secret>` (ADR-0007). The uuid is the token's id,
 * which is not secret and is how the store finds the row; the secret is 32 random bytes in
 * unpadded base64url (43 characters), stored only as an Argon2id hash.
 */
export const PAT_PREFIX = "ibex_pat_"
export const SECRET_BYTES = 32
export const SECRET_LENGTH = 43
export const PAT_LENGTH = PAT_PREFIX.length + 36 + 1 + SECRET_LENGTH

export interface ParsedPat {
  readonly tokenId: TokenId
  /** The secret part alone; keep it redacted until it reaches the hasher. */
  readonly secret: Redacted.Redacted<string>
}

/** Why a string is not a PAT. Internal detail for metrics; clients all see one INVALID_TOKEN. */
export class MalformedPat extends Data.TaggedError("MalformedPat")<{
  readonly reason: "prefix" | "length" | "token_id" | "separator" | "secret"
}> {}

/** 43 base64url characters whose last one leaves the 2 bits past the 32nd byte zero (its value is a multiple of 4). */
const canonicalSecret = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/

/** Total: any input gives a parsed PAT or a MalformedPat, never a throw. Only the canonical form parses. */
export const parsePat = (input: string): Either.Either<ParsedPat, MalformedPat> => {
  if (typeof input !== "string" || !input.startsWith(PAT_PREFIX))
    return Either.left(new MalformedPat({ reason: "prefix" }))
  if (input.length !== PAT_LENGTH) return Either.left(new MalformedPat({ reason: "length" }))
  const id = input.slice(PAT_PREFIX.length, PAT_PREFIX.length + 36)
  if (!isCanonicalUuid(id)) return Either.left(new MalformedPat({ reason: "token_id" }))
  if (input[PAT_PREFIX.length + 36] !== "_") return Either.left(new MalformedPat({ reason: "separator" }))
  const secret = input.slice(PAT_PREFIX.length + 37)
  // Canonical only: the last character of 32 bytes carries 2 padding bits that must be zero. The
  // same rule as decoding and encoding again, without the bytes and string that cost (a flood of
  // guesses is parsed before it is refused).
  if (!canonicalSecret.test(secret)) return Either.left(new MalformedPat({ reason: "secret" }))
  return Either.right({ tokenId: id as TokenId, secret: Redacted.make(secret) })
}

export const formatPat = (tokenId: TokenId, secret: Redacted.Redacted<string>): Redacted.Redacted<string> =>
  Redacted.make(`${PAT_PREFIX}${tokenId}_${Redacted.value(secret)}`)

/** Builds the secret from exactly 32 random bytes supplied by the caller (the domain has no entropy of its own). */
export const secretFromBytes = (bytes: Uint8Array): Redacted.Redacted<string> => {
  if (bytes.length !== SECRET_BYTES) throw new RangeError(`a PAT secret needs ${SECRET_BYTES} bytes`)
  return Redacted.make(encodeBase64Url(bytes))
}

/** What lists and logs show instead of a token: the prefix and the first 8 characters of its id. */
export const displayPrefix = (tokenId: TokenId): string => `${PAT_PREFIX}${tokenId.slice(0, 8)}`
