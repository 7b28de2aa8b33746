import { Schema } from "effect"
import { catalogueEntry } from "./ErrorCatalogue.js"
import type { DomainError } from "./errors.js"
import { FieldError } from "./FieldError.js"

/**
 * The error body of every non-2xx HTTP response. Shaped like OpenAI's so the official SDKs
 * surface `code`, `message` and `type`; `request_id` equals the X-Request-ID header and
 * `field_errors` appears only on validation errors.
 */
export const ErrorBody = Schema.Struct({
  code: Schema.String,
  message: Schema.String,
  type: Schema.String,
  request_id: Schema.String,
  field_errors: Schema.optional(Schema.Array(FieldError))
})
export const ErrorEnvelope = Schema.Struct({ error: ErrorBody })
export type ErrorEnvelope = typeof ErrorEnvelope.Type

export interface EnvelopeJson {
  readonly error: {
    readonly code: string
    readonly message: string
    readonly type: string
    readonly request_id: string
    readonly field_errors?: ReadonlyArray<{ readonly field: string; readonly message: string }>
    /** On `UPSTREAM_REJECTED` only: the provider's own error code, when it gave one. */
    readonly provider_code?: string
  }
}

export const toEnvelope = (error: DomainError, requestId: string): { status: number; body: EnvelopeJson } => {
  const entry = catalogueEntry(error)
  if (error._tag === "UpstreamRejected") {
    // The one envelope whose text is not ours: a provider's 4xx says what the client must change.
    const message = error.providerMessage === "" ? entry.message : error.providerMessage
    const base = { code: entry.code, message, type: entry.type, request_id: requestId }
    return {
      status: error.status,
      body: { error: error.providerCode === undefined ? base : { ...base, provider_code: error.providerCode } }
    }
  }
  const base = { code: entry.code, message: entry.message, type: entry.type, request_id: requestId }
  const body: EnvelopeJson =
    error._tag === "ValidationFailed"
      ? { error: { ...base, field_errors: error.fieldErrors.map((f) => ({ field: f.field, message: f.message })) } }
      : { error: base }
  return { status: entry.httpStatus, body }
}
