import { Context, type Effect, type Option } from "effect"
import type { StoreUnavailable } from "../errors.js"
import type { OrgId, TokenId } from "../ids.js"
import type { NewToken, TokenCredential, TokenInfo } from "../Token.js"

export interface TokenPage {
  readonly tokens: ReadonlyArray<TokenInfo>
  /** Opaque cursor for the next page; null on the last page. */
  readonly nextCursor: string | null
}

/** What a revocation did: the token, and every token minted under it (revoked with it, in one transaction). */
export interface RevokedToken {
  readonly info: TokenInfo
  /** Children, their children, and so on: all revoked now (each announced, like the token itself). */
  readonly descendants: ReadonlyArray<TokenId>
}

export interface TokenStoreShape {
  /**
   * The one pre-tenant read: a token by id with its hash and its org's state, before any org is
   * known (in Postgres, a narrow SECURITY DEFINER function). Everything else is tenant-scoped.
   */
  readonly findCredential: (tokenId: TokenId) => Effect.Effect<Option.Option<TokenCredential>, StoreUnavailable>
  /**
   * The same read for many ids in one round trip: the credentials found, in no particular order
   * (an unknown id is simply absent). The validator batches its cold lookups through it, so a
   * flood of random token ids costs the database a query per batch, not one per id.
   */
  readonly findCredentials: (
    tokenIds: ReadonlyArray<TokenId>
  ) => Effect.Effect<ReadonlyArray<TokenCredential>, StoreUnavailable>
  /**
   * A child (`parentTokenId` set) gets at most its parent's expiry; a parent that is revoked,
   * missing or of another org is refused (a failure; the use cases never ask for one).
   */
  readonly insert: (token: NewToken) => Effect.Effect<TokenInfo, StoreUnavailable>
  /** Tokens of `orgId` only, newest first. */
  readonly list: (
    orgId: OrgId,
    page: { readonly limit: number; readonly cursor: string | null }
  ) => Effect.Effect<TokenPage, StoreUnavailable>
  /**
   * Marks the token and every token minted under it (children, grandchildren, …) revoked and
   * announces each to every listener, atomically. None when the token is not in `orgId` (another
   * org's token is indistinguishable from a missing one). The time is the store's own clock
   * (Postgres: `now()`), never the caller's. Revoking twice keeps the first revocation time (a
   * time in the future, which only a clock ahead can have written, is brought back to now).
   */
  readonly revoke: (orgId: OrgId, tokenId: TokenId) => Effect.Effect<Option.Option<RevokedToken>, StoreUnavailable>
  /** Best-effort bookkeeping; never on the validation hot path's critical section. */
  readonly touchLastUsed: (tokenId: TokenId, at: Date) => Effect.Effect<void, StoreUnavailable>
}

export class TokenStore extends Context.Tag("@ibex/domain/TokenStore")<TokenStore, TokenStoreShape>() {}
