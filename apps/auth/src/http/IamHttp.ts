import type { IncomingMessage, ServerResponse } from "node:http"
import { resolveSession } from "@ibex/auth-core"
import {
  CsrfFailed,
  type DomainError,
  InternalError,
  InvalidOrgId,
  isCanonicalUuid,
  MethodNotAllowed,
  type OrgId,
  OrgRequired,
  RouteNotFound,
  SessionRequired
} from "@ibex/domain"
import { Cause, Effect, Layer, Redacted } from "effect"
import { AdminHttpHandlers } from "./AdminHttpHandlers.js"
import { adminRoutes } from "./adminRoutes.js"
import { authRoutes } from "./authRoutes.js"
import { CSRF_COOKIE, clearedCookies, SESSION_COOKIE } from "./cookies.js"
import { checkOrigin, cookiesOf, readJson, requestIdOf, sendDomainError, sendReply, sourceOf } from "./httpKit.js"
import type { Route, RouteInput } from "./routing.js"

/** Every route of the IAM API, in match order. */
const routes = [...authRoutes, ...adminRoutes]
type IamRequirements = typeof routes extends ReadonlyArray<Route<infer R>> ? R : never

export interface IamHttpOptions {
  /** Cookies get `Secure` (the listener is not on loopback: TLS must be in front of it). */
  readonly secureCookies: boolean
}

const WRITE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"])
const ORG_HEADER = "x-ibex-org-id"

const bearerOf = (req: IncomingMessage): string | undefined => {
  const h = req.headers.authorization
  return h?.startsWith("Bearer ") ? h.slice(7).trim() : undefined
}

/**
 * The IAM API (/v1/auth, /v1/admin) as one admin-listener handler. Per request: the route, then
 * the Origin check on writes, the session (cookie, or a Bearer access token for scripts) read
 * fresh from the stores, the CSRF double submit on session writes (cookie-borne sessions only),
 * the org header on org-scoped routes, the body; errors through the one envelope.
 */
export const makeIamHttpHandler = (options: IamHttpOptions) =>
  Effect.gen(function* () {
    const context = yield* Effect.context<IamRequirements>()

    const serve = (req: IncomingMessage, res: ServerResponse, path: string, requestId: string) =>
      Effect.gen(function* () {
        const method = req.method ?? "GET"
        const matching = routes.filter((r) => r.pattern.test(path))
        if (matching.length === 0) return yield* new RouteNotFound()
        const chosen = matching.find((r) => r.method === method)
        if (chosen === undefined)
          return yield* new MethodNotAllowed({ allowed: [...new Set(matching.map((r) => r.method))] })
        const params = chosen.pattern.exec(path)?.slice(1) ?? []
        const isWrite = WRITE_METHODS.has(method)
        if (isWrite) yield* checkOrigin(req, options.secureCookies)
        const cookies = cookiesOf(req)
        let principal: RouteInput["principal"]
        if (chosen.auth === "session") {
          const bearer = bearerOf(req)
          const token = bearer ?? cookies.get(SESSION_COOKIE)
          if (token === undefined || token === "") return yield* new SessionRequired()
          principal = yield* resolveSession(Redacted.make(token))
          // Double submit: the header must equal the cookie and the token bound into the session.
          if (isWrite && bearer === undefined) {
            const header = req.headers["x-csrf-token"]
            if (
              typeof header !== "string" ||
              header === "" ||
              header !== cookies.get(CSRF_COOKIE) ||
              header !== principal.csrf
            )
              return yield* new CsrfFailed()
          }
        }
        let orgId: OrgId | undefined
        if (chosen.orgScoped) {
          const raw = req.headers[ORG_HEADER]
          if (raw === undefined || raw === "") return yield* new OrgRequired()
          const text = (Array.isArray(raw) ? (raw[0] ?? "") : raw).trim().toLowerCase()
          if (!isCanonicalUuid(text)) return yield* new InvalidOrgId()
          orgId = text as OrgId
        }
        const body = isWrite ? yield* readJson(req) : {}
        const url = new URL(req.url ?? "/", "http://localhost")
        const reply = yield* chosen.run({
          req,
          params,
          query: url.searchParams,
          body,
          requestId,
          source: sourceOf(req),
          cookies,
          principal,
          orgId,
          secureCookies: options.secureCookies
        })
        sendReply(res, requestId, reply)
      })

    const handler = (req: IncomingMessage, res: ServerResponse): Effect.Effect<boolean> => {
      const url = req.url ?? "/"
      const q = url.indexOf("?")
      const path = q === -1 ? url : url.slice(0, q)
      if (!path.startsWith("/v1/auth/") && !path.startsWith("/v1/admin/")) return Effect.succeed(false)
      const requestId = requestIdOf(req)
      return serve(req, res, path, requestId).pipe(
        Effect.catchAll((error: DomainError) =>
          Effect.sync(() =>
            sendDomainError(
              res,
              requestId,
              error,
              // A dead session or refresh token: the browser drops its cookies.
              error._tag === "InvalidRefreshToken" ? clearedCookies(options.secureCookies) : []
            )
          )
        ),
        Effect.catchAllCause((cause) =>
          Effect.zipRight(
            Effect.logError({
              event: "admin_http_defect",
              request_id: requestId,
              cause: Cause.pretty(cause).slice(0, 500)
            }),
            Effect.sync(() => sendDomainError(res, requestId, new InternalError()))
          )
        ),
        Effect.provide(context),
        Effect.withSpan("AdminHttp.request", { attributes: { "http.route_group": path.split("/")[2] ?? "" } }),
        Effect.as(true)
      )
    }
    return handler
  })

/** The IAM API mounted on the admin listener (plus whatever handlers `extra` lists first). */
export const IamHttpLive = (options: IamHttpOptions) =>
  Layer.effect(
    AdminHttpHandlers,
    Effect.map(makeIamHttpHandler(options), (handler) => [handler])
  )

export type { IamRequirements }
