import {
  AccessTokenSigner,
  type Assignment,
  type AuthzPrincipal,
  MembershipStore,
  type Operator,
  OperatorStore,
  type OrgId,
  type OrgRole,
  type SessionFamilyId,
  SessionRequired,
  SessionStore,
  type StoreUnavailable
} from "@ibex/domain"
import { Clock, Effect, Option, type Redacted } from "effect"

/** A signed-in operator as one request sees it: read fresh from the stores for every request. */
export interface OperatorPrincipal {
  readonly operator: Operator
  readonly familyId: SessionFamilyId
  /** The CSRF token bound to this session. */
  readonly csrf: string
  readonly assignments: ReadonlyArray<Assignment>
  readonly authz: AuthzPrincipal
}

export const authzOf = (operator: Operator, assignments: ReadonlyArray<Assignment>): AuthzPrincipal => ({
  platformAdmin: operator.platformAdmin,
  roles: new Map<OrgId, OrgRole>(assignments.map((a) => [a.orgId, a.role]))
})

/**
 * The principal behind an access token: a valid signature and expiry, a session family still
 * active, an active operator, and its assignments as they are now. No cache anywhere: a revoked
 * session, a disabled operator or a changed role decides the very next request.
 */
export const resolveSession = (
  accessToken: Redacted.Redacted<string>
): Effect.Effect<
  OperatorPrincipal,
  SessionRequired | StoreUnavailable,
  AccessTokenSigner | SessionStore | OperatorStore | MembershipStore
> =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const claims = yield* (yield* AccessTokenSigner).verify(accessToken, now)
    if (Option.isNone(claims) || claims.value.typ !== "access" || claims.value.sid === null)
      return yield* new SessionRequired()
    const { sub, sid, csrf } = claims.value
    const owner = yield* (yield* SessionStore).active(sid, new Date(now))
    if (Option.isNone(owner) || owner.value !== sub) return yield* new SessionRequired()
    const found = yield* (yield* OperatorStore).find(sub)
    if (Option.isNone(found) || found.value.operator.status !== "active") return yield* new SessionRequired()
    const operator = found.value.operator
    const assignments = yield* (yield* MembershipStore).forOperator(sub)
    return { operator, familyId: sid, csrf: csrf ?? "", assignments, authz: authzOf(operator, assignments) }
  }).pipe(Effect.withSpan("OperatorSession.resolve"))
