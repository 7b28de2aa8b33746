import {
  type AgentId,
  AgentVerdict,
  type AuthInvalidation,
  AuthInvalidation as Invalidation,
  type OrgId,
  type TokenId
} from "@ibex/domain"
import {
  AgentStatus,
  InvalidationKind,
  type WatchInvalidationsResponse,
  AgentVerdict as WireVerdict
} from "./gen/ibex/auth/v1/auth.js"

/**
 * The wire forms of Authorize's agent verdict and of the invalidation stream, both ways, in one
 * place: the server writes what the client reads.
 */

const suspendedToWire = {
  paused: AgentStatus.AGENT_STATUS_PAUSED,
  archived: AgentStatus.AGENT_STATUS_ARCHIVED,
  suspended: AgentStatus.AGENT_STATUS_SUSPENDED
} as const

export const verdictToWire = (verdict: AgentVerdict): { agentVerdict: WireVerdict; agentStatus: AgentStatus } => {
  switch (verdict._tag) {
    case "Authorized":
      return { agentVerdict: WireVerdict.AGENT_VERDICT_AUTHORIZED, agentStatus: AgentStatus.AGENT_STATUS_ACTIVE }
    case "NotAuthorized":
      return {
        agentVerdict: WireVerdict.AGENT_VERDICT_NOT_AUTHORIZED,
        agentStatus: AgentStatus.AGENT_STATUS_UNSPECIFIED
      }
    case "Suspended":
      return { agentVerdict: WireVerdict.AGENT_VERDICT_SUSPENDED, agentStatus: suspendedToWire[verdict.status] }
    case "Unavailable":
      return { agentVerdict: WireVerdict.AGENT_VERDICT_UNAVAILABLE, agentStatus: AgentStatus.AGENT_STATUS_UNSPECIFIED }
  }
}

/** Unknown or unset verdicts fail closed (Unavailable: 503, never cached). */
export const verdictFromWire = (verdict: WireVerdict, status: AgentStatus): AgentVerdict => {
  switch (verdict) {
    case WireVerdict.AGENT_VERDICT_AUTHORIZED:
      return AgentVerdict.Authorized()
    case WireVerdict.AGENT_VERDICT_NOT_AUTHORIZED:
      return AgentVerdict.NotAuthorized()
    case WireVerdict.AGENT_VERDICT_SUSPENDED:
      return AgentVerdict.Suspended({
        status:
          status === AgentStatus.AGENT_STATUS_PAUSED
            ? "paused"
            : status === AgentStatus.AGENT_STATUS_ARCHIVED
              ? "archived"
              : "suspended"
      })
    default:
      return AgentVerdict.Unavailable()
  }
}

export const invalidationToWire = (event: AuthInvalidation): Pick<WatchInvalidationsResponse, "kind" | "id"> => {
  switch (event._tag) {
    case "Heartbeat":
      return { kind: InvalidationKind.INVALIDATION_KIND_HEARTBEAT, id: "" }
    case "Reset":
      return { kind: InvalidationKind.INVALIDATION_KIND_RESET, id: "" }
    case "TokenRevoked":
      return { kind: InvalidationKind.INVALIDATION_KIND_TOKEN_REVOKED, id: event.tokenId }
    case "TokenChanged":
      return { kind: InvalidationKind.INVALIDATION_KIND_TOKEN_CHANGED, id: event.tokenId }
    case "AgentChanged":
      return { kind: InvalidationKind.INVALIDATION_KIND_AGENT_CHANGED, id: event.agentId }
    case "OrgChanged":
      return { kind: InvalidationKind.INVALIDATION_KIND_ORG_CHANGED, id: event.orgId }
  }
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** A kind this client does not know, or an id that is not one, resets: dropping too much is safe. */
export const invalidationFromWire = (message: WatchInvalidationsResponse): AuthInvalidation => {
  const id = message.id
  switch (message.kind) {
    case InvalidationKind.INVALIDATION_KIND_HEARTBEAT:
      return Invalidation.Heartbeat()
    case InvalidationKind.INVALIDATION_KIND_TOKEN_REVOKED:
      return uuid.test(id) ? Invalidation.TokenRevoked({ tokenId: id as TokenId }) : Invalidation.Reset()
    case InvalidationKind.INVALIDATION_KIND_TOKEN_CHANGED:
      return uuid.test(id) ? Invalidation.TokenChanged({ tokenId: id as TokenId }) : Invalidation.Reset()
    case InvalidationKind.INVALIDATION_KIND_AGENT_CHANGED:
      return uuid.test(id) ? Invalidation.AgentChanged({ agentId: id as AgentId }) : Invalidation.Reset()
    case InvalidationKind.INVALIDATION_KIND_ORG_CHANGED:
      return uuid.test(id) ? Invalidation.OrgChanged({ orgId: id as OrgId }) : Invalidation.Reset()
    default:
      return Invalidation.Reset()
  }
}
