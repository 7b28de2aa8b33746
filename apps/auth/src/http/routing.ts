import type { IncomingMessage } from "node:http"
import type { OperatorPrincipal } from "@ibex/auth-core"
import { type DomainError, FieldError, type OrgId, ValidationFailed } from "@ibex/domain"
import { Effect } from "effect"
import type { Reply } from "./httpKit.js"

/** What a route sees: the parsed request and, per the route's needs, the principal and the org. */
export interface RouteInput {
  readonly req: IncomingMessage
  readonly params: ReadonlyArray<string>
  readonly query: URLSearchParams
  readonly body: unknown
  readonly requestId: string
  readonly source: string
  readonly cookies: ReadonlyMap<string, string>
  /** Present when the route needs a session. */
  readonly principal: OperatorPrincipal | undefined
  /** Present on org-scoped routes (X-IBEX-Org-ID, validated). */
  readonly orgId: OrgId | undefined
  readonly secureCookies: boolean
}

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE"

export interface Route<R> {
  readonly method: Method
  /** Anchored; capture groups become `params`. */
  readonly pattern: RegExp
  /** "none": no session (sign-in and friends); "session": signed in, CSRF checked on writes. */
  readonly auth: "none" | "session"
  readonly orgScoped: boolean
  readonly run: (input: RouteInput) => Effect.Effect<Reply, DomainError, R>
}

export const route = <R>(
  method: Method,
  pattern: string,
  auth: "none" | "session",
  orgScoped: boolean,
  run: (input: RouteInput) => Effect.Effect<Reply, DomainError, R>
): Route<R> => ({ method, pattern: new RegExp(`^${pattern}$`), auth, orgScoped, run })

/** The principal of a session route (the router guarantees it). */
export const principalOf = (input: RouteInput): OperatorPrincipal => input.principal as OperatorPrincipal
export const orgOf = (input: RouteInput): OrgId => input.orgId as OrgId

// Body fields: a missing or mistyped field is a VALIDATION_FAILED naming it.
const invalid = (field: string, message: string) =>
  new ValidationFailed({ fieldErrors: [new FieldError({ field, message })] })

const fieldOf = (body: unknown, name: string): unknown =>
  typeof body === "object" && body !== null && !Array.isArray(body)
    ? (body as Record<string, unknown>)[name]
    : undefined

export const str = (body: unknown, name: string) => {
  const v = fieldOf(body, name)
  return typeof v === "string" ? Effect.succeed(v) : Effect.fail(invalid(name, "required, a string"))
}

export const optStr = (body: unknown, name: string) => {
  const v = fieldOf(body, name)
  return v === undefined || v === null
    ? Effect.succeed(undefined)
    : typeof v === "string"
      ? Effect.succeed(v)
      : Effect.fail(invalid(name, "must be a string"))
}

/** undefined: absent; null: cleared. */
export const optIntOrNull = (body: unknown, name: string) => {
  const v = fieldOf(body, name)
  if (v === undefined) return Effect.succeed(undefined)
  if (v === null) return Effect.succeed(null)
  return typeof v === "number" && Number.isInteger(v)
    ? Effect.succeed(v)
    : Effect.fail(invalid(name, "must be an integer or null"))
}

export const strArray = (body: unknown, name: string) => {
  const v = fieldOf(body, name)
  return Array.isArray(v) && v.every((x) => typeof x === "string")
    ? Effect.succeed(v as ReadonlyArray<string>)
    : Effect.fail(invalid(name, "required, an array of strings"))
}

export const oneOf = <L extends string>(value: string, allowed: ReadonlyArray<L>, field: string) =>
  (allowed as ReadonlyArray<string>).includes(value)
    ? Effect.succeed(value as L)
    : Effect.fail(invalid(field, `must be one of ${allowed.join(", ")}`))

export const optTime = (body: unknown, name: string) => {
  const v = fieldOf(body, name)
  if (v === undefined || v === null) return Effect.succeed(null)
  const d = typeof v === "string" ? new Date(v) : new Date(Number.NaN)
  return Number.isNaN(d.getTime()) ? Effect.fail(invalid(name, "must be an RFC 3339 time or null")) : Effect.succeed(d)
}

export const queryTime = (query: URLSearchParams, name: string) => {
  const v = query.get(name)
  if (v === null || v === "") return Effect.succeed(null)
  const d = new Date(v)
  return Number.isNaN(d.getTime()) ? Effect.fail(invalid(name, "must be an RFC 3339 time")) : Effect.succeed(d)
}

export const uuidParam = (value: string | undefined, field: string) =>
  value !== undefined && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value)
    ? Effect.succeed(value)
    : Effect.fail(invalid(field, "must be a UUID"))

export const UUID = "([0-9a-fA-F-]{36})"
