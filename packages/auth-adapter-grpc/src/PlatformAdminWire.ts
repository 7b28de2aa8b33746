import {
  Agent,
  type AgentId,
  type AgentStatus as DomainAgentStatus,
  Org,
  type OrgId,
  Permissions,
  type TokenId,
  TokenInfo,
  type UserId
} from "@ibex/domain"
import { OrgStatus, type PlatformAgent, type PlatformOrg } from "./gen/ibex/auth/v1/admin.js"
import { AgentStatus, type TokenInfo as WireTokenInfo } from "./gen/ibex/auth/v1/auth.js"

/** Domain records ↔ the PlatformAdminService's messages, both directions (server and client). */

export const agentStatusToWire: Record<DomainAgentStatus, AgentStatus> = {
  active: AgentStatus.AGENT_STATUS_ACTIVE,
  paused: AgentStatus.AGENT_STATUS_PAUSED,
  archived: AgentStatus.AGENT_STATUS_ARCHIVED,
  suspended: AgentStatus.AGENT_STATUS_SUSPENDED
}

export const agentStatusFromWire = (status: AgentStatus): DomainAgentStatus | undefined =>
  (Object.entries(agentStatusToWire) as Array<[DomainAgentStatus, AgentStatus]>).find(([, w]) => w === status)?.[0]

export const orgToWire = (org: Org): PlatformOrg => ({
  id: org.id,
  name: org.name,
  status: org.status === "active" ? OrgStatus.ORG_STATUS_ACTIVE : OrgStatus.ORG_STATUS_DISABLED,
  rateLimitPerMinute: org.rateLimitPerMinute ?? 0,
  createdAt: org.createdAt
})

export const orgFromWire = (org: PlatformOrg): Org =>
  new Org({
    id: org.id as OrgId,
    name: org.name,
    status: org.status === OrgStatus.ORG_STATUS_ACTIVE ? "active" : "disabled",
    rateLimitPerMinute: org.rateLimitPerMinute === 0 ? null : org.rateLimitPerMinute,
    createdAt: org.createdAt ?? new Date(0)
  })

export const agentToWire = (agent: Agent): PlatformAgent => ({
  id: agent.id,
  orgId: agent.orgId,
  name: agent.name,
  status: agentStatusToWire[agent.status],
  createdAt: agent.createdAt
})

export const agentFromWire = (agent: PlatformAgent): Agent =>
  new Agent({
    id: agent.id as AgentId,
    orgId: agent.orgId as OrgId,
    name: agent.name,
    status: agentStatusFromWire(agent.status) ?? "suspended",
    createdAt: agent.createdAt ?? new Date(0)
  })

export const tokenInfoToWire = (info: TokenInfo): WireTokenInfo => ({
  id: info.id,
  orgId: info.orgId,
  name: info.name,
  displayPrefix: info.displayPrefix,
  permissions: info.permissions,
  createdAt: info.createdAt,
  expiresAt: info.expiresAt ?? undefined,
  revokedAt: info.revokedAt ?? undefined,
  lastUsedAt: info.lastUsedAt ?? undefined,
  createdBy: info.createdBy ?? ""
})

export const tokenInfoFromWire = (info: WireTokenInfo): TokenInfo =>
  new TokenInfo({
    id: info.id as TokenId,
    orgId: info.orgId as OrgId,
    name: info.name,
    displayPrefix: info.displayPrefix,
    permissions: Permissions.unsafeFromBigInt(BigInt(info.permissions)),
    createdBy: info.createdBy === "" ? null : (info.createdBy as UserId),
    createdAt: info.createdAt ?? new Date(0),
    expiresAt: info.expiresAt ?? null,
    revokedAt: info.revokedAt ?? null,
    lastUsedAt: info.lastUsedAt ?? null
  })
