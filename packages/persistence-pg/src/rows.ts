import {
  Agent,
  type AgentStatus,
  Org,
  type OrgId,
  type OrgStatus,
  Permissions,
  type TokenCredential,
  type TokenId,
  TokenInfo,
  User,
  type UserId
} from "@ibex/domain"

/**
 * Rows as node-postgres returns them (uuid and numeric as text, timestamptz as Date) and their
 * decoding into domain records. The record constructors validate (uuid shapes, literals), so a
 * row that does not fit throws, which `storeOperation` turns into StoreUnavailable.
 */

export const TOKEN_COLUMNS =
  "id, org_id, name, display_prefix, permissions, created_by, created_at, expires_at, revoked_at, last_used_at"

export interface TokenRow {
  readonly id: string
  readonly org_id: string
  readonly name: string
  readonly display_prefix: string
  /** numeric(20,0): the unsigned 64-bit bitmap as decimal text. */
  readonly permissions: string
  readonly created_by: string | null
  readonly created_at: Date
  readonly expires_at: Date | null
  readonly revoked_at: Date | null
  readonly last_used_at: Date | null
}

export interface CredentialRow extends TokenRow {
  readonly secret_hash: string
  readonly org_status: string
  readonly org_rate_limit_per_minute: number | null
  /** Absent until the lookup function returns the org's limits. */
  readonly org_tokens_per_minute?: number | null
  readonly org_monthly_budget_micro_usd?: string | number | null
}

export interface OrgRow {
  readonly id: string
  readonly name: string
  readonly status: string
  readonly rate_limit_per_minute: number | null
  readonly created_at: Date
}

export interface UserRow {
  readonly id: string
  readonly org_id: string
  readonly email: string
  readonly display_name: string
  readonly created_at: Date
}

export interface AgentRow {
  readonly id: string
  readonly org_id: string
  readonly name: string
  readonly status: string
  readonly created_at: Date
}

/** numeric text to the bitmap; throws outside 0..2^64-1 (the column's CHECK makes that impossible). */
export const permissionsFromDb = (text: string): Permissions.Permissions => Permissions.unsafeFromBigInt(BigInt(text))
/** The bitmap as the decimal text a numeric(20,0) parameter takes: bit 63 stays positive. */
export const permissionsToDb = (p: Permissions.Permissions): string => p.toString(10)

export const tokenInfoFromRow = (row: TokenRow): TokenInfo =>
  new TokenInfo({
    id: row.id as TokenId,
    orgId: row.org_id as OrgId,
    name: row.name,
    displayPrefix: row.display_prefix,
    permissions: permissionsFromDb(row.permissions),
    createdBy: row.created_by as UserId | null,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at
  })

export const credentialFromRow = (row: CredentialRow): TokenCredential => ({
  info: tokenInfoFromRow(row),
  secretHash: row.secret_hash,
  orgStatus: row.org_status as OrgStatus,
  orgRateLimitPerMinute: row.org_rate_limit_per_minute,
  orgTokensPerMinute: row.org_tokens_per_minute ?? null,
  orgMonthlyBudgetMicroUsd:
    row.org_monthly_budget_micro_usd === undefined || row.org_monthly_budget_micro_usd === null
      ? null
      : Number(row.org_monthly_budget_micro_usd)
})

export const orgFromRow = (row: OrgRow): Org =>
  new Org({
    id: row.id as OrgId,
    name: row.name,
    status: row.status as OrgStatus,
    rateLimitPerMinute: row.rate_limit_per_minute,
    createdAt: row.created_at
  })

export const userFromRow = (row: UserRow): User =>
  new User({
    id: row.id as UserId,
    orgId: row.org_id as OrgId,
    email: row.email,
    displayName: row.display_name,
    createdAt: row.created_at
  })

export const agentFromRow = (row: AgentRow): Agent =>
  new Agent({
    id: row.id as Agent["id"],
    orgId: row.org_id as OrgId,
    name: row.name,
    status: row.status as AgentStatus,
    createdAt: row.created_at
  })
