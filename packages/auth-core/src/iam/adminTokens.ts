import { ActionDenied, authorize, type OrgId, Permissions, type TokenId } from "@ibex/domain"
import { Effect } from "effect"
import { createOrgToken, listOrgTokens, revokeOrgToken } from "../platformAdmin.js"
import { TokenValidator } from "../TokenValidator.js"
import { type AdminContext, actorOf, audit, requireRight } from "./authorization.js"

/** What an operator without `assignments:write` (a member) may put in a token. */
export const MEMBER_GRANTABLE = Permissions.of("probe:read", "chat:completions", "usage:read")

export const adminListTokens = (
  ctx: AdminContext,
  orgId: OrgId,
  page: { readonly limit: number; readonly cursor: string | null }
) =>
  requireRight(ctx, orgId, "tokens:read").pipe(
    Effect.zipRight(listOrgTokens(actorOf(ctx), orgId, page)),
    Effect.withSpan("AdminTokens.list")
  )

/** Mints through `issueToken`, the one path every token is made by; the plaintext is returned once. */
export const adminCreateToken = (
  ctx: AdminContext,
  orgId: OrgId,
  input: { readonly name: string; readonly permissions: Permissions.Permissions; readonly expiresAt: Date | null }
) =>
  Effect.gen(function* () {
    yield* requireRight(ctx, orgId, "tokens:write")
    const isAdmin = authorize(ctx.principal.authz, orgId, "assignments:write").allow
    if (!isAdmin && !Permissions.isSubset(input.permissions, MEMBER_GRANTABLE))
      return yield* new ActionDenied({ action: "tokens:write", reason: "permission_beyond_role" })
    const created = yield* createOrgToken(actorOf(ctx), orgId, input)
    yield* audit(ctx, "token.create", orgId, created.info.id, {
      name: created.info.name,
      display_prefix: created.info.displayPrefix,
      permissions: Permissions.toNames(created.info.permissions).join(",")
    })
    return created
  }).pipe(Effect.withSpan("AdminTokens.create"))

/** Revokes the token and its descendants; the validator here evicts at once, the feed tells every other cache. */
export const adminRevokeToken = (ctx: AdminContext, orgId: OrgId, tokenId: TokenId) =>
  Effect.gen(function* () {
    yield* requireRight(ctx, orgId, "tokens:write")
    const info = yield* revokeOrgToken(actorOf(ctx), orgId, tokenId)
    const validator = yield* Effect.serviceOption(TokenValidator)
    if (validator._tag === "Some") yield* validator.value.evict(tokenId)
    yield* audit(ctx, "token.revoke", orgId, tokenId, { display_prefix: info.displayPrefix })
    return info
  }).pipe(Effect.withSpan("AdminTokens.revoke"))
