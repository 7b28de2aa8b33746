import { Either, Schema } from "effect"

/**
 * The permission bitmap: 64 bits, carried as `uint64` on the wire and `bigint` in code.
 * Bit positions are stable API: a bit, once published, keeps its meaning forever.
 */
export const PermissionBits = {
  "probe:read": 0,
  "chat:completions": 1,
  "tokens:create": 2,
  "tokens:revoke": 3,
  "tokens:list": 4,
  "agents:manage": 5,
  "routing:admin": 6,
  "usage:read": 7,
  "budget:manage": 8
} as const

export type PermissionName = keyof typeof PermissionBits

export const MAX_BITS = 64
const MASK = (1n << 64n) - 1n

export const Permissions = Schema.BigIntFromSelf.pipe(
  Schema.filter((n) => n >= 0n && n <= MASK, { message: () => "must be an unsigned 64-bit integer" }),
  Schema.brand("Permissions")
)
export type Permissions = typeof Permissions.Type

const make = (n: bigint): Permissions => (n & MASK) as Permissions

export const none: Permissions = make(0n)
export const bit = (position: number): Permissions => {
  if (!Number.isInteger(position) || position < 0 || position >= MAX_BITS)
    throw new RangeError(`permission bit must be 0..63`)
  return make(1n << BigInt(position))
}
export const union = (a: Permissions, b: Permissions): Permissions => make(a | b)
export const intersection = (a: Permissions, b: Permissions): Permissions => make(a & b)
export const of = (...names: ReadonlyArray<PermissionName>): Permissions =>
  names.reduce((acc, name) => union(acc, bit(PermissionBits[name])), none)

export const all: Permissions = of(...(Object.keys(PermissionBits) as Array<PermissionName>))

export const grant = union
export const revoke = (a: Permissions, b: Permissions): Permissions => make(a & ~b)
/** Every bit of `required` is set in `held`. */
export const hasAll = (held: Permissions, required: Permissions): boolean => (held & required) === required
export const hasAny = (held: Permissions, wanted: Permissions): boolean => (held & wanted) !== 0n
export const has = (held: Permissions, name: PermissionName): boolean => hasAll(held, bit(PermissionBits[name]))
export const isSubset = (sub: Permissions, sup: Permissions): boolean => (sub & ~sup) === 0n

const nameByBit = new Map<number, PermissionName>(
  (Object.entries(PermissionBits) as Array<[PermissionName, number]>).map(([n, b]) => [b, n])
)

/** Names of set bits, lowest first; bits without a name print as `bit:N` so every bitmap round-trips. */
// A deployment has a handful of distinct bitmaps; 64 BigInt shifts per call showed in the edge's profile.
const namesByBitmap = new Map<bigint, ReadonlyArray<string>>()

export const toNames = (p: Permissions): Array<string> => {
  const known = namesByBitmap.get(p)
  if (known !== undefined) return [...known]
  const out: Array<string> = []
  for (let i = 0; i < MAX_BITS; i++) {
    if ((p >> BigInt(i)) & 1n) out.push(nameByBit.get(i) ?? `bit:${i}`)
  }
  if (namesByBitmap.size < 1024) namesByBitmap.set(p, out.slice())
  return out
}

export const fromNames = (names: ReadonlyArray<string>): Either.Either<Permissions, string> => {
  let acc = none
  for (const raw of names) {
    const name = raw.trim()
    if (name === "*" || name === "all") {
      acc = union(acc, all)
      continue
    }
    const known = (PermissionBits as Record<string, number>)[name]
    if (known !== undefined) {
      acc = union(acc, bit(known))
      continue
    }
    const m = /^bit:(\d{1,2})$/.exec(name)
    const position = m ? Number(m[1]) : -1
    if (position < 0 || position >= MAX_BITS) return Either.left(`unknown permission "${name.slice(0, 40)}"`)
    acc = union(acc, bit(position))
  }
  return Either.right(acc)
}

/** The wire form: decimal text of the unsigned 64-bit value (what `uint64` carries as a string). */
export const toWire = (p: Permissions): string => p.toString(10)
export const fromWire = (s: string | bigint | number): Either.Either<Permissions, string> => {
  try {
    const n = typeof s === "bigint" ? s : BigInt(s)
    return n >= 0n && n <= MASK ? Either.right(n as Permissions) : Either.left("out of the unsigned 64-bit range")
  } catch {
    return Either.left("not an integer")
  }
}
export const unsafeFromBigInt = (n: bigint): Permissions => {
  if (n < 0n || n > MASK) throw new RangeError("permissions out of the unsigned 64-bit range")
  return n as Permissions
}
