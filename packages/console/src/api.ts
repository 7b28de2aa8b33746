/**
 * The admin API client (contract: docs/CONSOLE.md, "API"). Same-origin fetch with the session
 * cookies (HttpOnly, SameSite=Strict); every mutation echoes the readable `ibex_csrf` cookie in
 * `X-CSRF-Token`; org-scoped calls name the org in `X-IBEX-Org-ID`. A `401 SESSION_REQUIRED`
 * triggers one `POST /v1/auth/refresh` and a retry; if that fails the app shows the sign-in page.
 */

export interface Operator {
  readonly id: string
  readonly email: string
  readonly display_name: string
  readonly status: "active" | "disabled"
  readonly mfa_enabled: boolean
  readonly platform_admin: boolean
  readonly created_at: string
}
export interface Membership {
  readonly org_id: string
  readonly org_name: string
  readonly role: string
}
export interface Me {
  readonly operator: Operator
  readonly memberships: ReadonlyArray<Membership>
  readonly rights: {
    readonly platform: ReadonlyArray<string>
    readonly orgs: Readonly<Record<string, ReadonlyArray<string>>>
  }
  readonly csrf_token?: string
}
export type SignInAnswer =
  | ({ readonly status: "signed_in" } & Me)
  | { readonly status: "mfa_required"; readonly challenge: string; readonly expires_in: number }
export interface Org {
  readonly id: string
  readonly name: string
  readonly status: "active" | "disabled"
  readonly rate_limit_per_minute: number | null
  readonly created_at: string
}
export type AgentStatus = "active" | "paused" | "archived" | "suspended"
export interface Agent {
  readonly id: string
  readonly org_id: string
  readonly name: string
  readonly status: AgentStatus
  readonly created_at: string
}
export interface Token {
  readonly id: string
  readonly org_id: string
  readonly name: string
  readonly display_prefix: string
  readonly permissions: ReadonlyArray<string>
  readonly created_at: string
  readonly expires_at: string | null
  readonly revoked_at: string | null
  readonly last_used_at: string | null
}
export interface OrgUser {
  readonly operator_id: string
  readonly email: string
  readonly display_name: string
  readonly status: string
  readonly role: string
  readonly mfa_enabled: boolean
}
export interface Invitation {
  readonly id: string
  readonly org_id: string
  readonly email: string
  readonly role: string
  readonly created_at: string
  readonly expires_at: string
  readonly invited_by: string
}
export interface Assignment {
  readonly operator_id: string
  readonly email: string
  readonly display_name: string
  readonly org_id: string
  readonly role: string
  readonly created_at: string
}
export interface Role {
  readonly name: string
  readonly rights: ReadonlyArray<string>
}
export interface UsageRow {
  readonly key: string
  readonly requests: number
  readonly prompt_tokens: number
  readonly completion_tokens: number
  readonly total_tokens: number
  readonly cost_micro_usd: number
}
export interface Usage {
  readonly org_id: string
  readonly since: string
  readonly until: string
  readonly group_by: string
  readonly rows: ReadonlyArray<UsageRow>
}
export interface Budget {
  readonly org_id: string
  readonly tokens_per_minute: number | null
  readonly monthly_budget_micro_usd: number | null
  readonly month_start: string
  readonly month_spend_micro_usd: number
}
export interface AuditEvent {
  readonly id: string
  readonly at: string
  readonly actor: string
  readonly action: string
  readonly target: string | null
  readonly org_id: string | null
  readonly request_id: string
  readonly detail: unknown
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fieldErrors: ReadonlyArray<{ field: string; message: string }> = []
  ) {
    super(message)
  }
}

const csrfCookie = (): string => {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=")
    if (name === "ibex_csrf") return decodeURIComponent(rest.join("="))
  }
  return ""
}

/** Called when the session is gone for good (refresh refused): the app shows the sign-in page. */
let onSignedOut: () => void = () => {}
export const setSignedOutHandler = (f: () => void) => {
  onSignedOut = f
}

interface CallOptions {
  readonly method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE"
  readonly body?: unknown
  readonly org?: string | undefined
  /** No refresh-and-retry (sign-in itself, refresh, me at start). */
  readonly noRetry?: boolean
}

const raw = async (path: string, o: CallOptions): Promise<Response> => {
  const method = o.method ?? "GET"
  const headers: Record<string, string> = { Accept: "application/json" }
  if (method !== "GET") headers["X-CSRF-Token"] = csrfCookie()
  if (o.body !== undefined) headers["Content-Type"] = "application/json"
  if (o.org !== undefined) headers["X-IBEX-Org-ID"] = o.org
  return fetch(path, {
    method,
    credentials: "same-origin",
    headers,
    ...(o.body === undefined ? {} : { body: JSON.stringify(o.body) })
  })
}

const errorOf = async (res: Response): Promise<ApiError> => {
  try {
    const body = (await res.json()) as {
      error?: { code?: string; message?: string; field_errors?: Array<{ field: string; message: string }> }
    }
    return new ApiError(
      res.status,
      body.error?.code ?? `HTTP_${res.status}`,
      body.error?.message ?? res.statusText,
      body.error?.field_errors ?? []
    )
  } catch {
    return new ApiError(res.status, `HTTP_${res.status}`, res.statusText)
  }
}

/**
 * One refresh in flight at a time: the refresh token is single use, and a second refresh with
 * the same one would be taken for a replay (the server then revokes the whole session family).
 */
let refreshing: Promise<Me | undefined> | undefined
export const refreshSession = (): Promise<Me | undefined> => {
  refreshing ??= raw("/v1/auth/refresh", { method: "POST" })
    .then(async (r) => (r.ok ? ((await r.json()) as Me) : undefined))
    .catch(() => undefined)
    .finally(() => {
      refreshing = undefined
    })
  return refreshing
}

export const call = async <A>(path: string, o: CallOptions = {}): Promise<A> => {
  let res = await raw(path, o)
  if (res.status === 401 && !o.noRetry) {
    const err = await errorOf(res)
    if (err.code !== "SESSION_REQUIRED") throw err
    if ((await refreshSession()) !== undefined) res = await raw(path, o)
    if (res.status === 401) {
      onSignedOut()
      throw await errorOf(res)
    }
  }
  if (!res.ok) throw await errorOf(res)
  if (res.status === 204) return undefined as A
  return (await res.json()) as A
}

const q = (params: Record<string, string | number | undefined | null>) => {
  const s = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") s.set(k, String(v))
  const text = s.toString()
  return text === "" ? "" : `?${text}`
}

export const api = {
  // Sign-in and the session
  me: () => call<Me>("/v1/auth/me", { noRetry: true }),
  signIn: (email: string, password: string) =>
    call<SignInAnswer>("/v1/auth/signin", { method: "POST", body: { email, password }, noRetry: true }),
  verifyMfa: (challenge: string, code: { code: string } | { recovery_code: string }) =>
    call<SignInAnswer>("/v1/auth/mfa/verify", { method: "POST", body: { challenge, ...code }, noRetry: true }),
  signOut: () => call<void>("/v1/auth/signout", { method: "POST", noRetry: true }),
  signUp: (invitation: string, password: string, display_name: string) =>
    call<SignInAnswer>("/v1/auth/signup", {
      method: "POST",
      body: { invitation, password, display_name },
      noRetry: true
    }),
  forgot: (email: string) => call<unknown>("/v1/auth/forgot", { method: "POST", body: { email }, noRetry: true }),
  reset: (token: string, password: string) =>
    call<void>("/v1/auth/reset", { method: "POST", body: { token, password }, noRetry: true }),
  changePassword: (current_password: string, new_password: string) =>
    call<void>("/v1/auth/password", { method: "POST", body: { current_password, new_password } }),
  enrollMfa: () => call<{ secret: string; otpauth_uri: string }>("/v1/auth/mfa/enroll", { method: "POST" }),
  confirmMfa: (code: string) =>
    call<{ recovery_codes: ReadonlyArray<string> }>("/v1/auth/mfa/confirm", { method: "POST", body: { code } }),
  disableMfa: (code: string) => call<void>("/v1/auth/mfa/disable", { method: "POST", body: { code } }),

  // Platform
  roles: () => call<{ roles: ReadonlyArray<Role>; rights: ReadonlyArray<string> }>("/v1/admin/roles"),
  orgs: () => call<{ orgs: ReadonlyArray<Org> }>("/v1/admin/orgs"),
  createOrg: (name: string, rate_limit_per_minute?: number) =>
    call<{ org: Org }>("/v1/admin/orgs", {
      method: "POST",
      body: rate_limit_per_minute === undefined ? { name } : { name, rate_limit_per_minute }
    }),
  updateOrg: (id: string, patch: { name?: string; rate_limit_per_minute?: number | null; status?: Org["status"] }) =>
    call<{ org: Org }>(`/v1/admin/orgs/${encodeURIComponent(id)}`, { method: "PATCH", body: patch }),
  operators: () => call<{ operators: ReadonlyArray<Operator> }>("/v1/admin/operators"),
  operatorAction: (id: string, action: "disable" | "enable" | "signout" | "mfa/reset") =>
    call<unknown>(`/v1/admin/operators/${encodeURIComponent(id)}/${action}`, { method: "POST" }),

  // Org-scoped
  org: (org: string) => call<{ org: Org }>(`/v1/admin/orgs/${encodeURIComponent(org)}`, { org }),
  agents: (org: string) => call<{ agents: ReadonlyArray<Agent> }>("/v1/admin/agents", { org }),
  createAgent: (org: string, name: string) =>
    call<{ agent: Agent }>("/v1/admin/agents", { org, method: "POST", body: { name } }),
  agentAction: (org: string, id: string, action: "pause" | "archive" | "suspend" | "activate") =>
    call<{ agent: Agent }>(`/v1/admin/agents/${encodeURIComponent(id)}/${action}`, { org, method: "POST" }),
  tokens: (org: string, cursor?: string) =>
    call<{ tokens: ReadonlyArray<Token>; next_cursor: string | null }>(`/v1/admin/tokens${q({ limit: 50, cursor })}`, {
      org
    }),
  createToken: (org: string, name: string, permissions: ReadonlyArray<string>, expires_at: string | null) =>
    call<{ token: string; info: Token }>("/v1/admin/tokens", {
      org,
      method: "POST",
      body: { name, permissions, expires_at }
    }),
  revokeToken: (org: string, id: string) =>
    call<{ token: Token }>(`/v1/admin/tokens/${encodeURIComponent(id)}/revoke`, { org, method: "POST" }),
  users: (org: string) => call<{ users: ReadonlyArray<OrgUser> }>("/v1/admin/users", { org }),
  invitations: (org: string) => call<{ invitations: ReadonlyArray<Invitation> }>("/v1/admin/invitations", { org }),
  invite: (org: string, email: string, role: string) =>
    call<{ invitation: Invitation }>("/v1/admin/invitations", { org, method: "POST", body: { email, role } }),
  cancelInvitation: (org: string, id: string) =>
    call<void>(`/v1/admin/invitations/${encodeURIComponent(id)}`, { org, method: "DELETE" }),
  assignments: (org: string) => call<{ assignments: ReadonlyArray<Assignment> }>("/v1/admin/assignments", { org }),
  assign: (org: string, operatorId: string, role: string) =>
    call<{ assignment: Assignment }>(`/v1/admin/assignments/${encodeURIComponent(operatorId)}`, {
      org,
      method: "PUT",
      body: { role }
    }),
  unassign: (org: string, operatorId: string) =>
    call<void>(`/v1/admin/assignments/${encodeURIComponent(operatorId)}`, { org, method: "DELETE" }),
  usage: (org: string, since: string, until: string, group_by: "model" | "agent" | "day" | "provider") =>
    call<Usage>(`/v1/admin/usage${q({ since, until, group_by })}`, { org }),
  budget: (org: string) => call<Budget>("/v1/admin/budget", { org }),
  setBudget: (org: string, tokens_per_minute: number | null, monthly_budget_micro_usd: number | null) =>
    call<Budget>("/v1/admin/budget", { org, method: "PUT", body: { tokens_per_minute, monthly_budget_micro_usd } }),
  audit: (org: string, before?: string) =>
    call<{ events: ReadonlyArray<AuditEvent>; next_before: string | null }>(
      `/v1/admin/audit${q({ limit: 50, before })}`,
      { org }
    ),
  platformAudit: (before?: string) =>
    call<{ events: ReadonlyArray<AuditEvent>; next_before: string | null }>(
      `/v1/admin/platform/audit${q({ limit: 50, before })}`
    )
}

/** What the signed-in operator may do in an org (a platform admin may do everything everywhere). */
export const can = (me: Me, org: string | undefined, right: string): boolean =>
  me.operator.platform_admin ||
  me.rights.platform.includes(right) ||
  (org !== undefined && (me.rights.orgs[org]?.includes(right) ?? false))

/** The PAT permission names (packages/domain/src/Permissions.ts); a member may grant only the first three. */
export const TOKEN_PERMISSIONS = [
  "probe:read",
  "chat:completions",
  "usage:read",
  "tokens:create",
  "tokens:revoke",
  "tokens:list",
  "agents:manage",
  "routing:admin",
  "budget:manage"
] as const
export const MEMBER_TOKEN_PERMISSIONS: ReadonlyArray<string> = ["probe:read", "chat:completions", "usage:read"]
