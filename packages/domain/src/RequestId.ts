import { Option, Schema } from "effect"
import { uuidFromBytes } from "./ids.js"

/**
 * A request id is a UUID v4 or v7. Inbound values are honoured only when they are exactly
 * that (case-insensitive, normalised to lowercase); anything else is replaced, never reflected,
 * so a client cannot inject text into our logs or other clients' correlation data.
 */
export const RequestId = Schema.String.pipe(Schema.brand("RequestId"))
export type RequestId = typeof RequestId.Type

const acceptedPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[47][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

export const parseInboundRequestId = (value: string | undefined | null): Option.Option<RequestId> => {
  if (value === undefined || value === null || value.length !== 36) return Option.none()
  const lower = value.toLowerCase()
  return acceptedPattern.test(lower) ? Option.some(RequestId.make(lower)) : Option.none()
}

/** UUIDv7: 48-bit Unix milliseconds, then randomness (RFC 9562 §5.7). `random` must hold ≥ 10 bytes. */
export const uuidv7 = (unixMillis: number, random: Uint8Array): RequestId => {
  const bytes = new Uint8Array(16)
  let ms = Math.max(0, Math.floor(unixMillis))
  for (let i = 5; i >= 0; i--) {
    bytes[i] = ms % 256
    ms = Math.floor(ms / 256)
  }
  for (let i = 6; i < 16; i++) bytes[i] = random[i - 6] ?? 0
  return RequestId.make(uuidFromBytes(bytes, 7))
}

const variantDigits = "89ab"
let lastMillis = -1
let lastPrefix = ""

/**
 * `uuidv7(unixMillis, random)` with the random bytes given as their 20 lowercase hex digits: the
 * same id, built from text. The proxy mints one per request from a pool of random hex, where
 * bytes, a Uint8Array and digit-by-digit formatting were a measurable part of a request's cost.
 */
export const uuidv7FromHex = (unixMillis: number, randomHex: string): RequestId => {
  const ms = Math.max(0, Math.floor(unixMillis))
  if (ms !== lastMillis) {
    const t = ms.toString(16).padStart(12, "0")
    lastPrefix = `${t.slice(0, 8)}-${t.slice(8, 12)}-7`
    lastMillis = ms
  }
  const variant = variantDigits[Number.parseInt(randomHex.charAt(4), 16) & 3]
  return RequestId.make(
    `${lastPrefix}${randomHex.slice(1, 4)}-${variant}${randomHex.slice(5, 8)}-${randomHex.slice(8, 20)}`,
    // Well-formed by construction (a test holds it equal to `uuidv7`); the schema check cost more than the rest.
    { disableValidation: true }
  )
}

/** The millisecond timestamp inside a UUIDv7. */
export const uuidv7Millis = (id: string): number => Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)
