import { Metadata, type ServiceError, status } from "@grpc/grpc-js"
import {
  AgentNotAuthorized,
  AgentSuspended,
  catalogueEntry,
  type DomainError,
  ErrorCatalogue,
  InsufficientPermissions,
  InvalidToken,
  ResourceNotFound,
  ServiceDegraded,
  ValidationFailed
} from "@ibex/domain"
import { ErrorReason, errorReasonToJSON } from "./gen/ibex/auth/v1/auth.js"

/** Response-trailer key naming the ErrorReason (proto: without the `ERROR_REASON_` prefix). */
export const REASON_TRAILER = "ibex-reason"
/**
 * Response-trailer key carrying an inactive agent's status (`paused`, `archived`,
 * `suspended`) next to `ibex-reason: AGENT_SUSPENDED`. Not part of the proto contract:
 * clients that do not read it treat the agent as `suspended`.
 */
export const AGENT_STATUS_TRAILER = "ibex-agent-status"

/** The `ibex-reason` values the proto registers (ErrorReason names without their prefix). */
export const errorReasons: ReadonlySet<string> = new Set(
  Object.values(ErrorReason)
    .filter((v) => v !== ErrorReason.ERROR_REASON_UNSPECIFIED && v !== ErrorReason.UNRECOGNIZED)
    .map((v) => errorReasonToJSON(v).replace(/^ERROR_REASON_/, ""))
)

/** What the server sends for a failed call. */
export interface GrpcFailure {
  readonly code: status
  /** The catalogue's fixed message: never built from request data. */
  readonly details: string
  readonly metadata: Metadata
}

/**
 * The one mapping from a domain error to a gRPC status, through the domain's ErrorCatalogue:
 * its gRPC code, its fixed message as details, and its stable code as the `ibex-reason`
 * trailer when the proto registers that code as an ErrorReason (AGENT_NOT_AUTHORIZED,
 * AGENT_SUSPENDED, INSUFFICIENT_PERMISSIONS, VALIDATION_FAILED, NOT_FOUND).
 */
export const toGrpcFailure = (error: DomainError): GrpcFailure => {
  const entry = catalogueEntry(error)
  const metadata = new Metadata()
  if (errorReasons.has(entry.code)) metadata.set(REASON_TRAILER, entry.code)
  if (error._tag === "AgentSuspended") metadata.set(AGENT_STATUS_TRAILER, error.status)
  return { code: entry.grpcStatus as number as status, details: entry.message, metadata }
}

/** A defect or anything unforeseen: a fixed message, never a stack trace. */
export const internalFailure = (): GrpcFailure => ({
  code: status.INTERNAL,
  details: ErrorCatalogue.InternalError.message,
  metadata: new Metadata()
})

/** The first value of a trailer, if it is a string. */
export const trailer = (error: Pick<ServiceError, "metadata"> | undefined, key: string): string | undefined => {
  const value = error?.metadata?.get(key)[0]
  return typeof value === "string" ? value : undefined
}

const agentStatuses = new Set(["paused", "archived", "suspended"])

/** VerifyAgent's PERMISSION_DENIED, read back: AGENT_SUSPENDED with its status, else AGENT_NOT_AUTHORIZED (proto rule). */
export const agentRefusal = (error: ServiceError): AgentNotAuthorized | AgentSuspended => {
  if (trailer(error, REASON_TRAILER) !== "AGENT_SUSPENDED") return new AgentNotAuthorized()
  const agentStatus = trailer(error, AGENT_STATUS_TRAILER)
  return new AgentSuspended({
    status:
      agentStatus !== undefined && agentStatuses.has(agentStatus)
        ? (agentStatus as AgentSuspended["status"])
        : "suspended"
  })
}

/** The management RPCs' failures, read back as domain errors (what the CLI and tests need). */
export type ManagementError =
  | InvalidToken
  | InsufficientPermissions
  | ResourceNotFound
  | ValidationFailed
  | ServiceDegraded

export const managementError = (error: ServiceError): ManagementError => {
  switch (error.code) {
    case status.UNAUTHENTICATED:
      return new InvalidToken({ reason: "unknown" })
    case status.PERMISSION_DENIED:
      return new InsufficientPermissions({ required: [] })
    case status.NOT_FOUND:
      return new ResourceNotFound({ resource: "token" })
    case status.INVALID_ARGUMENT:
      return new ValidationFailed({ fieldErrors: [] })
    default:
      return new ServiceDegraded()
  }
}
