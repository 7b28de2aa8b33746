import { Either, Redacted, Schema } from "effect"
import { decodeBase64Url, encodeBase64Url } from "./base64url.js"
import { isCanonicalUuid } from "./ids.js"
import { SECRET_BYTES, SECRET_LENGTH } from "./Pat.js"

/**
 * Platform-admin credentials: `ibex_padm_<uuid>_<secret>`, a kind distinct from an org's PAT
 * (`ibex_pat_…`): a PAT never authenticates a platform-admin call and a platform-admin
 * credential never authenticates a tenant call. Same shape and rules otherwise: the uuid is the
 * credential's id (not secret), the secret is 32 random bytes in unpadded base64url, stored only
 * as an Argon2id hash, in its own table.
 */
export const PlatformAdminId = Schema.UUID.pipe(Schema.brand("PlatformAdminId"))
export type PlatformAdminId = typeof PlatformAdminId.Type

export const ADMIN_CREDENTIAL_PREFIX = "ibex_padm_"
export const ADMIN_CREDENTIAL_LENGTH = ADMIN_CREDENTIAL_PREFIX.length + 36 + 1 + SECRET_LENGTH

export class PlatformAdmin extends Schema.Class<PlatformAdmin>("PlatformAdmin")({
  id: PlatformAdminId,
  name: Schema.String,
  createdAt: Schema.DateFromSelf,
  revokedAt: Schema.NullOr(Schema.DateFromSelf)
}) {}

/** What the lookup returns for authentication. The hash is never logged nor returned by an API. */
export interface PlatformAdminCredential {
  readonly admin: PlatformAdmin
  readonly secretHash: string
}

export interface ParsedAdminCredential {
  readonly adminId: PlatformAdminId
  readonly secret: Redacted.Redacted<string>
}

/** Total: the canonical form parses, anything else (a PAT included) is `Left`. */
export const parseAdminCredential = (input: string): Either.Either<ParsedAdminCredential, "malformed"> => {
  if (
    typeof input !== "string" ||
    !input.startsWith(ADMIN_CREDENTIAL_PREFIX) ||
    input.length !== ADMIN_CREDENTIAL_LENGTH
  )
    return Either.left("malformed")
  const id = input.slice(ADMIN_CREDENTIAL_PREFIX.length, ADMIN_CREDENTIAL_PREFIX.length + 36)
  if (!isCanonicalUuid(id) || input[ADMIN_CREDENTIAL_PREFIX.length + 36] !== "_") return Either.left("malformed")
  const secret = input.slice(ADMIN_CREDENTIAL_PREFIX.length + 37)
  const bytes = decodeBase64Url(secret)
  if (bytes === undefined || bytes.length !== SECRET_BYTES || encodeBase64Url(bytes) !== secret)
    return Either.left("malformed")
  return Either.right({ adminId: id as PlatformAdminId, secret: Redacted.make(secret) })
}

export const formatAdminCredential = (
  adminId: PlatformAdminId,
  secret: Redacted.Redacted<string>
): Redacted.Redacted<string> => Redacted.make(`${ADMIN_CREDENTIAL_PREFIX}${adminId}_${Redacted.value(secret)}`)

/**
 * Who performed a platform operation, as audit lines name it: a platform admin by credential id,
 * or the database owner working through the CLI (named by the operating-system user).
 */
export type PlatformActor =
  | { readonly kind: "platform_admin"; readonly adminId: PlatformAdminId }
  | { readonly kind: "database_owner"; readonly name: string }
  /** A signed-in operator acting through the admin API, after the RBAC check (issue 15). */
  | { readonly kind: "operator"; readonly operatorId: string }

export const actorLabel = (actor: PlatformActor): string =>
  actor.kind === "platform_admin"
    ? `platform_admin:${actor.adminId}`
    : actor.kind === "operator"
      ? `operator:${actor.operatorId}`
      : `database_owner:${actor.name}`
