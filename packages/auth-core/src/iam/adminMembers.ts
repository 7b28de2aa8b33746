import {
  Assignment,
  FieldError,
  Invitation,
  type InvitationId,
  isPlausibleEmail,
  Mailer,
  MembershipStore,
  type OperatorId,
  OperatorStore,
  type OrgId,
  type OrgRole,
  OrgStore,
  ResourceNotFound,
  SecureRandom,
  uuidFromBytes,
  ValidationFailed
} from "@ibex/domain"
import { Clock, Effect, Option, Redacted } from "effect"
import { type AdminContext, audit, requireRight } from "./authorization.js"
import { IamConfig } from "./IamConfig.js"
import { INVITATION_PREFIX, newSecret } from "./secrets.js"

const membersOf = (orgId: OrgId) =>
  Effect.gen(function* () {
    const assignments = yield* (yield* MembershipStore).list(orgId)
    const operators = yield* OperatorStore
    const rows = yield* Effect.forEach(assignments, (a) =>
      Effect.map(operators.find(a.operatorId), (found) =>
        Option.map(found, (c) => ({ operator: c.operator, assignment: a }))
      )
    )
    return rows.flatMap((r) => (Option.isSome(r) ? [r.value] : []))
  })

/** The org's members: each assignment with its operator. */
export const adminListUsers = (ctx: AdminContext, orgId: OrgId) =>
  Effect.gen(function* () {
    yield* requireRight(ctx, orgId, "users:read")
    return yield* membersOf(orgId)
  }).pipe(Effect.withSpan("AdminMembers.listUsers"))

export const adminListAssignments = (ctx: AdminContext, orgId: OrgId) =>
  requireRight(ctx, orgId, "assignments:read").pipe(
    Effect.zipRight(membersOf(orgId)),
    Effect.withSpan("AdminMembers.listAssignments")
  )

/**
 * Changes a member's role in the org: in force from the next request. An org admin changes the
 * roles of the org's own members only; someone new joins through an invitation, which they
 * accept. Operators are global, so letting an org admin assign any operator id would put
 * another org's operator into this org unasked and answer with that operator's e-mail. A
 * platform admin may assign anyone.
 */
export const adminPutAssignment = (ctx: AdminContext, orgId: OrgId, operatorId: OperatorId, role: OrgRole) =>
  Effect.gen(function* () {
    yield* requireRight(ctx, orgId, "assignments:write")
    const members = yield* MembershipStore
    if (!ctx.principal.authz.platformAdmin && !(yield* members.list(orgId)).some((a) => a.operatorId === operatorId))
      return yield* new ResourceNotFound({ resource: "operator" })
    const operator = yield* (yield* OperatorStore).find(operatorId)
    if (Option.isNone(operator)) return yield* new ResourceNotFound({ resource: "operator" })
    const org = yield* (yield* OrgStore).find(orgId)
    if (Option.isNone(org)) return yield* new ResourceNotFound({ resource: "org" })
    const assignment = yield* members.put(
      new Assignment({ operatorId, orgId, role, createdAt: new Date(yield* Clock.currentTimeMillis) })
    )
    yield* audit(ctx, "assignment.put", orgId, operatorId, { role })
    return { operator: operator.value.operator, assignment }
  }).pipe(Effect.withSpan("AdminMembers.putAssignment"))

export const adminRemoveAssignment = (ctx: AdminContext, orgId: OrgId, operatorId: OperatorId) =>
  Effect.gen(function* () {
    yield* requireRight(ctx, orgId, "assignments:write")
    const removed = yield* (yield* MembershipStore).remove(orgId, operatorId)
    if (!removed) return yield* new ResourceNotFound({ resource: "assignment" })
    yield* audit(ctx, "assignment.delete", orgId, operatorId)
  }).pipe(Effect.withSpan("AdminMembers.removeAssignment"))

export const adminListInvitations = (ctx: AdminContext, orgId: OrgId) =>
  Effect.gen(function* () {
    yield* requireRight(ctx, orgId, "users:invite")
    return yield* (yield* MembershipStore).listInvitations(orgId, new Date(yield* Clock.currentTimeMillis))
  }).pipe(Effect.withSpan("AdminMembers.listInvitations"))

/** Invites an e-mail into the org with a role: a one-time link (7 days) is mailed, never answered. */
export const adminInvite = (
  ctx: AdminContext,
  orgId: OrgId,
  input: { readonly email: string; readonly role: OrgRole }
) =>
  Effect.gen(function* () {
    yield* requireRight(ctx, orgId, "users:invite")
    const email = input.email.trim()
    if (!isPlausibleEmail(email))
      return yield* new ValidationFailed({
        fieldErrors: [new FieldError({ field: "email", message: "must be an e-mail address" })]
      })
    const org = yield* (yield* OrgStore).find(orgId)
    if (Option.isNone(org)) return yield* new ResourceNotFound({ resource: "org" })
    const config = yield* IamConfig
    const now = yield* Clock.currentTimeMillis
    const secret = yield* newSecret(INVITATION_PREFIX)
    const invitation = yield* (yield* MembershipStore).insertInvitation(
      new Invitation({
        id: uuidFromBytes(yield* (yield* SecureRandom).bytes(16), 4) as InvitationId,
        orgId,
        email,
        role: input.role,
        invitedBy: ctx.principal.operator.id,
        createdAt: new Date(now),
        expiresAt: new Date(now + config.invitationTtlMs)
      }),
      secret.digest
    )
    yield* (yield* Mailer).send({
      to: email,
      kind: "invitation",
      subject: `You are invited to ${org.value.name} on IBEX`,
      link: Redacted.make(`${config.consoleUrl}#/signup?invitation=${Redacted.value(secret.value)}`),
      text: `You are invited to the org ${org.value.name} as ${input.role}. The link works once, for 7 days.`
    })
    yield* audit(ctx, "invitation.create", orgId, invitation.id, { email, role: input.role })
    return invitation
  }).pipe(Effect.withSpan("AdminMembers.invite"))

export const adminRevokeInvitation = (ctx: AdminContext, orgId: OrgId, id: InvitationId) =>
  Effect.gen(function* () {
    yield* requireRight(ctx, orgId, "users:invite")
    if (!(yield* (yield* MembershipStore).revokeInvitation(orgId, id)))
      return yield* new ResourceNotFound({ resource: "invitation" })
    yield* audit(ctx, "invitation.revoke", orgId, id)
  }).pipe(Effect.withSpan("AdminMembers.revokeInvitation"))
