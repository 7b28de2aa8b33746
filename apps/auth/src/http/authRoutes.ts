import {
  acceptInvitation,
  changePassword,
  confirmTotp,
  disableTotp,
  enrollTotp,
  forgotPassword,
  type IssuedSession,
  type OperatorPrincipal,
  refreshSession,
  resetPassword,
  resolveSession,
  signIn,
  signOut,
  verifyMfa
} from "@ibex/auth-core"
import { AuditTrail, CsrfFailed, InvalidRefreshToken, OrgStore } from "@ibex/domain"
import { Clock, Effect, Option, Redacted } from "effect"
import { CSRF_COOKIE, clearedCookies, REFRESH_COOKIE, SESSION_COOKIE, sessionCookies } from "./cookies.js"
import type { Reply } from "./httpKit.js"
import { optStr, principalOf, type RouteInput, route, str } from "./routing.js"
import { meJson } from "./wire.js"

/** The `me` body of a principal, with its orgs' names. */
export const meBody = (principal: OperatorPrincipal, csrf: string) =>
  Effect.gen(function* () {
    const orgs = yield* OrgStore
    const names = new Map<string, string>()
    for (const a of principal.assignments) {
      const org = yield* orgs.find(a.orgId)
      if (Option.isSome(org)) names.set(a.orgId, org.value.name)
    }
    return meJson(principal, names, csrf)
  })

/** A fresh session's answer: its cookies and the `me` of the new session. */
const signedIn = (input: RouteInput, session: IssuedSession, status = 200) =>
  Effect.gen(function* () {
    const principal = yield* resolveSession(session.access)
    const now = yield* Clock.currentTimeMillis
    return {
      status,
      body: { status: "signed_in", ...(yield* meBody(principal, session.csrf)) },
      cookies: sessionCookies(session, input.secureCookies, now)
    } satisfies Reply
  })

const secret = (body: unknown, name: string) => Effect.map(str(body, name), Redacted.make)

/** An operator's change to its own credentials, in the audit trail like every admin mutation. */
const selfAudit = (input: RouteInput, operatorId: string, action: string) =>
  Effect.flatMap(AuditTrail, (trail) =>
    trail.append({
      actor: `operator:${operatorId}`,
      action,
      target: operatorId,
      orgId: null,
      requestId: input.requestId,
      detail: {}
    })
  )

export const authRoutes = [
  route("POST", "/v1/auth/signin", "none", false, (input) =>
    Effect.gen(function* () {
      const email = yield* str(input.body, "email")
      const password = yield* secret(input.body, "password")
      const result = yield* signIn({ email, password, source: input.source })
      if (result._tag === "MfaRequired")
        return {
          status: 200,
          body: {
            status: "mfa_required",
            challenge: Redacted.value(result.challenge),
            expires_in: Math.round(result.expiresInMs / 1000)
          }
        } satisfies Reply
      return yield* signedIn(input, result.session)
    })
  ),
  route("POST", "/v1/auth/mfa/verify", "none", false, (input) =>
    Effect.gen(function* () {
      const challenge = yield* secret(input.body, "challenge")
      const code = yield* optStr(input.body, "code")
      const recovery = yield* optStr(input.body, "recovery_code")
      const session = yield* verifyMfa({
        challenge,
        code: code === undefined ? null : Redacted.make(code),
        recoveryCode: recovery === undefined ? null : Redacted.make(recovery),
        source: input.source
      })
      return yield* signedIn(input, session)
    })
  ),
  route("POST", "/v1/auth/refresh", "none", false, (input) =>
    Effect.gen(function* () {
      const token = input.cookies.get(REFRESH_COOKIE)
      if (token === undefined || token === "") return yield* new InvalidRefreshToken({ reused: false })
      // Double submit (no session to bind it to here): the header must equal the CSRF cookie.
      const header = input.req.headers["x-csrf-token"]
      if (typeof header !== "string" || header === "" || header !== input.cookies.get(CSRF_COOKIE))
        return yield* new CsrfFailed()
      const session = yield* refreshSession(Redacted.make(token))
      return yield* signedIn(input, session)
    })
  ),
  // Always clears the cookies; a live session (CSRF-checked) is revoked with its whole family.
  route("POST", "/v1/auth/signout", "none", false, (input) =>
    Effect.gen(function* () {
      const access = input.cookies.get(SESSION_COOKIE)
      if (access !== undefined && access !== "") {
        const principal = yield* resolveSession(Redacted.make(access)).pipe(
          Effect.map(Option.some),
          Effect.catchTag("SessionRequired", () => Effect.succeed(Option.none()))
        )
        if (Option.isSome(principal)) {
          if (input.req.headers["x-csrf-token"] !== principal.value.csrf) return yield* new CsrfFailed()
          yield* signOut(principal.value.familyId)
        }
      }
      return { status: 204, cookies: clearedCookies(input.secureCookies) } satisfies Reply
    })
  ),
  route("GET", "/v1/auth/me", "session", false, (input) =>
    Effect.map(meBody(principalOf(input), principalOf(input).csrf), (body) => ({ status: 200, body }) satisfies Reply)
  ),
  route("POST", "/v1/auth/signup", "none", false, (input) =>
    Effect.gen(function* () {
      const session = yield* acceptInvitation({
        invitation: yield* secret(input.body, "invitation"),
        password: yield* secret(input.body, "password"),
        displayName: yield* str(input.body, "display_name"),
        source: input.source,
        requestId: input.requestId
      })
      return yield* signedIn(input, session, 201)
    })
  ),
  route("POST", "/v1/auth/forgot", "none", false, (input) =>
    Effect.gen(function* () {
      yield* forgotPassword({ email: yield* str(input.body, "email"), source: input.source })
      return { status: 202, body: { status: "accepted" } } satisfies Reply
    })
  ),
  route("POST", "/v1/auth/reset", "none", false, (input) =>
    Effect.gen(function* () {
      const operatorId = yield* resetPassword({
        token: yield* secret(input.body, "token"),
        password: yield* secret(input.body, "password"),
        source: input.source
      })
      yield* selfAudit(input, operatorId, "operator.password_reset")
      return { status: 204, cookies: clearedCookies(input.secureCookies) } satisfies Reply
    })
  ),
  route("POST", "/v1/auth/password", "session", false, (input) =>
    Effect.gen(function* () {
      yield* changePassword(
        principalOf(input).operator.id,
        yield* secret(input.body, "current_password"),
        yield* secret(input.body, "new_password")
      )
      yield* selfAudit(input, principalOf(input).operator.id, "operator.password_change")
      return { status: 204, cookies: clearedCookies(input.secureCookies) } satisfies Reply
    })
  ),
  route("POST", "/v1/auth/mfa/enroll", "session", false, (input) =>
    Effect.gen(function* () {
      const enrollment = yield* enrollTotp(principalOf(input).operator.id)
      return {
        status: 200,
        body: { secret: Redacted.value(enrollment.secret), otpauth_uri: Redacted.value(enrollment.otpauthUri) }
      } satisfies Reply
    })
  ),
  route("POST", "/v1/auth/mfa/confirm", "session", false, (input) =>
    Effect.gen(function* () {
      const codes = yield* confirmTotp(principalOf(input).operator.id, yield* str(input.body, "code"))
      yield* selfAudit(input, principalOf(input).operator.id, "operator.mfa_enable")
      return { status: 200, body: { recovery_codes: codes.map(Redacted.value) } } satisfies Reply
    })
  ),
  route("POST", "/v1/auth/mfa/disable", "session", false, (input) =>
    Effect.gen(function* () {
      yield* disableTotp(principalOf(input).operator.id, yield* str(input.body, "code"))
      yield* selfAudit(input, principalOf(input).operator.id, "operator.mfa_disable")
      return { status: 204 } satisfies Reply
    })
  )
]
