import { labelledUpdates } from "@ibex/domain"
import { Effect, Metric } from "effect"

/**
 * The management and RPC counters of the auth service. Validation outcomes and latency
 * (`ibex_auth_validation_total{outcome}`, `ibex_auth_validation_duration_seconds`) are counted
 * by the domain's TokenValidator. Labels are method names, status names and operation names:
 * never a token, an id or any request value.
 */
export const tokenCreatedTotal = Metric.counter("ibex_auth_token_created_total", {
  description: "Tokens created through CreateToken",
  incremental: true
})
export const tokenRevokedTotal = Metric.counter("ibex_auth_token_revoked_total", {
  description: "Tokens revoked through RevokeToken",
  incremental: true
})
export const listTokensTotal = Metric.counter("ibex_auth_list_tokens_total", {
  description: "Successful ListTokens calls",
  incremental: true
})
export const managementRefusedTotal = Metric.counter("ibex_auth_management_refused_total", {
  description: "Management calls refused (unauthenticated or missing permission), by operation",
  incremental: true
})
export const usageRecordsTotal = Metric.counter("ibex_auth_usage_records_total", {
  description: "Usage records received through RecordUsage, by outcome (inserted, duplicate, refused)",
  incremental: true
})
export const grpcRequestsTotal = Metric.counter("ibex_auth_grpc_requests_total", {
  description: "AuthService calls by method and gRPC status",
  incremental: true
})

// labelledUpdates: why not Metric.tagged.
const rpcCounter = labelledUpdates(grpcRequestsTotal, "method", "code")
/** `ibex_auth_grpc_requests_total{method, code}` + 1, for either service. */
export const countRpc = (method: string, code: string) => Effect.sync(() => rpcCounter(method, code)(1))
