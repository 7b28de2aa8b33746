import type { PermissionName } from "./Permissions.js"

/**
 * Which permission each protected HTTP route and each RPC requires: the one table both edges
 * read. Routes not listed here are public (health, readiness, metrics) or internal to the
 * service mesh (ValidateToken, VerifyAgent are called by the proxy, not by tenants).
 */
export const RoutePermissions = {
  "GET /v1/internal/auth-probe": "probe:read",
  "GET /v1/orgs/{org_id}/auth-probe": "probe:read",
  "POST /v1/chat/completions": "chat:completions",
  // Whoever may chat may see which models it can chat with.
  "GET /v1/models": "chat:completions",
  "GET /v1/models/{model}": "chat:completions",
  "GET /admin/routing": "routing:admin",
  "POST /admin/routing/reload": "routing:admin"
} as const satisfies Record<string, PermissionName>

export type ProtectedRoute = keyof typeof RoutePermissions

export const RpcPermissions = {
  CreateToken: "tokens:create",
  RevokeToken: "tokens:revoke",
  ListTokens: "tokens:list",
  // UsageService, for a PAT acting in its own org (a platform-admin credential needs no bit).
  QueryUsage: "usage:read",
  GetOrgLimits: "budget:manage",
  SetOrgLimits: "budget:manage"
} as const satisfies Record<string, PermissionName>

export type ManagementRpc = keyof typeof RpcPermissions
