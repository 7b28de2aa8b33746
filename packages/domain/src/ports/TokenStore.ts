import { Context, type Effect, type Option } from "effect"
import type { StoreUnavailable } from "../errors.js"
import type { OrgId, TokenId } from "../ids.js"
import type { NewToken, TokenCredential, TokenInfo } from "../Token.js"

export interface TokenPage {
  readonly tokens: ReadonlyArray<TokenInfo>
  /** Opaque cursor for the next page; null on the last page. */
  readonly nextCursor: string | null
}

export interface TokenStoreShape {
  /**
   * The one pre-tenant read: a token by id with its hash and its org's state, before any org is
   * known (in Postgres, a narrow SECURITY DEFINER function). Everything else is tenant-scoped.
   */
  readonly findCredential: (tokenId: TokenId) => Effect.Effect<Option.Option<TokenCredential>, StoreUnavailable>
  readonly insert: (token: NewToken) => Effect.Effect<TokenInfo, StoreUnavailable>
  /** Tokens of `orgId` only, newest first. */
  readonly list: (
    orgId: OrgId,
    page: { readonly limit: number; readonly cursor: string | null }
  ) => Effect.Effect<TokenPage, StoreUnavailable>
  /**
   * Marks the token revoked and announces it to every listener, atomically. None when the token
   * is not in `orgId` (another org's token is indistinguishable from a missing one). The time is
   * the store's own clock (Postgres: `now()`), never the caller's. Revoking twice keeps the first
   * revocation time (a time in the future, which only a clock ahead can have written, is brought
   * back to now).
   */
  readonly revoke: (orgId: OrgId, tokenId: TokenId) => Effect.Effect<Option.Option<TokenInfo>, StoreUnavailable>
  /** Best-effort bookkeeping; never on the validation hot path's critical section. */
  readonly touchLastUsed: (tokenId: TokenId, at: Date) => Effect.Effect<void, StoreUnavailable>
}

export class TokenStore extends Context.Tag("@ibex/domain/TokenStore")<TokenStore, TokenStoreShape>() {}
