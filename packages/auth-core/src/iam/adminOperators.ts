import { ActionDenied, type OperatorId, OperatorStore, ResourceNotFound, SessionStore } from "@ibex/domain"
import { Effect, Option } from "effect"
import { type AdminContext, audit, requireRight } from "./authorization.js"

export const adminListOperators = (ctx: AdminContext) =>
  requireRight(ctx, null, "operators:manage").pipe(
    Effect.zipRight(Effect.flatMap(OperatorStore, (s) => s.list)),
    Effect.withSpan("AdminOperators.list")
  )

const found = <A>(o: Option.Option<A>) =>
  Option.match(o, { onNone: () => Effect.fail(new ResourceNotFound({ resource: "operator" })), onSome: Effect.succeed })

const notSelf = (ctx: AdminContext, id: OperatorId, action: string) =>
  id === ctx.principal.operator.id ? Effect.fail(new ActionDenied({ action, reason: "not_on_self" })) : Effect.void

/** Disabling ends every session of the operator at once. */
export const adminSetOperatorStatus = (ctx: AdminContext, id: OperatorId, status: "active" | "disabled") =>
  Effect.gen(function* () {
    yield* requireRight(ctx, null, "operators:manage")
    if (status === "disabled") yield* notSelf(ctx, id, "operators:manage")
    const operator = yield* found(yield* (yield* OperatorStore).setStatus(id, status))
    if (status === "disabled") yield* (yield* SessionStore).revokeAll(id)
    yield* audit(ctx, status === "disabled" ? "operator.disable" : "operator.enable", null, id)
    return operator
  }).pipe(Effect.withSpan("AdminOperators.setStatus"))

/** Global sign-out of an operator. */
export const adminSignOutOperator = (ctx: AdminContext, id: OperatorId) =>
  Effect.gen(function* () {
    yield* requireRight(ctx, null, "operators:manage")
    yield* found(yield* (yield* OperatorStore).find(id))
    yield* (yield* SessionStore).revokeAll(id)
    yield* audit(ctx, "operator.signout", null, id)
  }).pipe(Effect.withSpan("AdminOperators.signOut"))

export const adminResetOperatorMfa = (ctx: AdminContext, id: OperatorId) =>
  Effect.gen(function* () {
    yield* requireRight(ctx, null, "operators:manage")
    if (!(yield* (yield* OperatorStore).clearMfa(id))) return yield* new ResourceNotFound({ resource: "operator" })
    yield* audit(ctx, "operator.mfa_reset", null, id)
  }).pipe(Effect.withSpan("AdminOperators.resetMfa"))

export const adminSetPlatformAdmin = (ctx: AdminContext, id: OperatorId, value: boolean) =>
  Effect.gen(function* () {
    yield* requireRight(ctx, null, "operators:manage")
    if (!value) yield* notSelf(ctx, id, "operators:manage")
    const operator = yield* found(yield* (yield* OperatorStore).setPlatformAdmin(id, value))
    yield* audit(ctx, value ? "operator.platform_admin.grant" : "operator.platform_admin.revoke", null, id)
    return operator
  }).pipe(Effect.withSpan("AdminOperators.setPlatformAdmin"))
