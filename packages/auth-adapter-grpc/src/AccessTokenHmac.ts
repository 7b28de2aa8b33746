import { createHmac, createSecretKey, hkdfSync, type KeyObject, timingSafeEqual } from "node:crypto"
import {
  type AccessClaims,
  AccessTokenSigner,
  isCanonicalUuid,
  type OperatorId,
  type SessionFamilyId
} from "@ibex/domain"
import { Effect, Layer, Option, Redacted } from "effect"

/** One signing key: its id travels in the token, its secret never does. */
export interface SessionKey {
  readonly kid: string
  readonly secret: Redacted.Redacted<string>
}

export const MIN_SESSION_KEY_BYTES = 32

/**
 * Parses `AUTH_SESSION_KEYS` (`kid:secret,kid:secret`): the first key signs, every key verifies,
 * so a rotation puts the new key first and drops the old one an access-token lifetime later.
 */
export const parseSessionKeys = (text: string): Array<SessionKey> | string => {
  const keys: Array<SessionKey> = []
  for (const part of text.split(",")) {
    const i = part.indexOf(":")
    const kid = part.slice(0, i).trim()
    const secret = part.slice(i + 1).trim()
    if (i < 1 || !/^[A-Za-z0-9_-]{1,32}$/.test(kid)) return "each key is kid:secret, kid of [A-Za-z0-9_-]{1,32}"
    if (Buffer.byteLength(secret) < MIN_SESSION_KEY_BYTES)
      return `each secret must be at least ${MIN_SESSION_KEY_BYTES} bytes`
    keys.push({ kid, secret: Redacted.make(secret) })
  }
  return keys.length > 0 ? keys : "at least one key"
}

/** A signing key derived from the token pepper (HKDF-SHA256, its own label): the default when no keys are configured. */
export const sessionKeyFromPepper = (pepper: Redacted.Redacted<string>): SessionKey => ({
  kid: "p1",
  secret: Redacted.make(
    Buffer.from(hkdfSync("sha256", Redacted.value(pepper), "ibex", "ibex-operator-session-v1", 32)).toString(
      "base64url"
    )
  )
})

const encode = (value: unknown) => Buffer.from(JSON.stringify(value), "utf8").toString("base64url")

const isClaims = (v: unknown): v is AccessClaims => {
  if (typeof v !== "object" || v === null) return false
  const c = v as Record<string, unknown>
  return (
    (c.typ === "access" || c.typ === "mfa") &&
    typeof c.sub === "string" &&
    isCanonicalUuid(c.sub) &&
    (c.sid === null || (typeof c.sid === "string" && isCanonicalUuid(c.sid))) &&
    (c.csrf === null || typeof c.csrf === "string") &&
    typeof c.exp === "number"
  )
}

/**
 * Access tokens and MFA challenges: `v1.<kid>.<claims, base64url JSON>.<HMAC-SHA256, base64url>`.
 * Verification is constant-time on the signature and refuses unknown key ids, bad shapes and
 * expired claims alike (None).
 */
export const makeAccessTokenHmac = (keys: ReadonlyArray<SessionKey>) => {
  if (keys.length === 0) throw new RangeError("at least one session key")
  const byKid = new Map<string, KeyObject>(
    keys.map((k) => [k.kid, createSecretKey(Buffer.from(Redacted.value(k.secret), "utf8"))])
  )
  const signer = keys[0] as SessionKey
  const mac = (key: KeyObject, input: string) => createHmac("sha256", key).update(input, "utf8").digest()
  return AccessTokenSigner.of({
    sign: (claims) =>
      Effect.sync(() => {
        const head = `v1.${signer.kid}.${encode(claims)}`
        return Redacted.make(`${head}.${mac(byKid.get(signer.kid) as KeyObject, head).toString("base64url")}`)
      }),
    verify: (token, nowMs) =>
      Effect.sync(() => {
        const parts = Redacted.value(token).split(".")
        if (parts.length !== 4 || parts[0] !== "v1") return Option.none()
        const [, kid, payload, signature] = parts as [string, string, string, string]
        const key = byKid.get(kid)
        if (key === undefined) return Option.none()
        const expected = mac(key, `v1.${kid}.${payload}`)
        const given = Buffer.from(signature, "base64url")
        if (given.length !== expected.length || !timingSafeEqual(given, expected)) return Option.none()
        let claims: unknown
        try {
          claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"))
        } catch {
          return Option.none()
        }
        if (!isClaims(claims) || claims.exp <= nowMs) return Option.none()
        return Option.some({
          typ: claims.typ,
          sub: claims.sub as OperatorId,
          sid: claims.sid as SessionFamilyId | null,
          csrf: claims.csrf,
          exp: claims.exp
        })
      })
  })
}

export const AccessTokenHmac = (keys: ReadonlyArray<SessionKey>): Layer.Layer<AccessTokenSigner> =>
  Layer.sync(AccessTokenSigner, () => makeAccessTokenHmac(keys))
