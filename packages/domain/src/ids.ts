import { Schema } from "effect"

/** Identifiers are UUIDs branded per entity, so an AgentId can never be passed where an OrgId is expected. */
export const OrgId = Schema.UUID.pipe(Schema.brand("OrgId"))
export type OrgId = typeof OrgId.Type

export const UserId = Schema.UUID.pipe(Schema.brand("UserId"))
export type UserId = typeof UserId.Type

export const AgentId = Schema.UUID.pipe(Schema.brand("AgentId"))
export type AgentId = typeof AgentId.Type

export const TokenId = Schema.UUID.pipe(Schema.brand("TokenId"))
export type TokenId = typeof TokenId.Type

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** Canonical lowercase UUID text, the only form this system writes. */
export const isCanonicalUuid = (s: string): boolean => s.length === 36 && uuidPattern.test(s)

/** Formats 16 bytes as canonical UUID text, stamping the given version and the RFC 9562 variant. */
export const uuidFromBytes = (bytes: Uint8Array, version: 4 | 7): string => {
  if (bytes.length < 16) throw new RangeError("uuidFromBytes needs 16 bytes")
  const b = bytes.slice(0, 16)
  b[6] = ((b[6] ?? 0) & 0x0f) | (version << 4)
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80
  let hex = ""
  for (const byte of b) hex += byte.toString(16).padStart(2, "0")
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}
