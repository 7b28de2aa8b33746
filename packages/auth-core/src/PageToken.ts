import {
  decodeBase64Url,
  encodeBase64Url,
  FieldError,
  type OrgId,
  type TokenDigestShape,
  ValidationFailed
} from "@ibex/domain"
import { Effect, Redacted } from "effect"

/**
 * Page tokens: the store's cursor, bound to the caller's org and signed with the server's keyed
 * digest, so a page token is accepted only from the org it was issued to and only if this service
 * made it. The MAC is compared in constant time: a byte-by-byte early exit would let a caller
 * forge one by timing.
 */
const SEPARATOR = "."
const MAX_LENGTH = 1024

const sign = (digest: TokenDigestShape, orgId: OrgId, cursor: string) =>
  digest.digest(Redacted.make(`ibex-page-token\u0000${orgId}\u0000${cursor}`))

/** Same length and same characters, looking at every character whatever it finds. */
export const constantTimeEquals = (a: string, b: string): boolean => {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return diff === 0
}

const utf8 = new TextEncoder()
const utf8Strict = new TextDecoder("utf-8", { fatal: true })

export const encodePageToken = (digest: TokenDigestShape, orgId: OrgId, cursor: string): string =>
  `${encodeBase64Url(utf8.encode(cursor))}${SEPARATOR}${sign(digest, orgId, cursor)}`

const refused = () =>
  new ValidationFailed({
    fieldErrors: [
      new FieldError({ field: "page_token", message: "must be a next_page_token from a previous response" })
    ]
  })

/** The cursor inside a page token this service issued to this org; "" is the first page (null). */
export const decodePageToken = (
  digest: TokenDigestShape,
  orgId: OrgId,
  pageToken: string
): Effect.Effect<string | null, ValidationFailed> => {
  if (pageToken === "") return Effect.succeed(null)
  const [encoded, mac, extra] = pageToken.split(SEPARATOR)
  if (encoded === undefined || mac === undefined || extra !== undefined || pageToken.length > MAX_LENGTH)
    return Effect.fail(refused())
  const bytes = decodeBase64Url(encoded)
  if (bytes === undefined) return Effect.fail(refused())
  let cursor: string
  try {
    cursor = utf8Strict.decode(bytes)
  } catch {
    return Effect.fail(refused())
  }
  return constantTimeEquals(sign(digest, orgId, cursor), mac) ? Effect.succeed(cursor) : Effect.fail(refused())
}
