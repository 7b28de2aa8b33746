import { RevocationEvent, type RevokedToken, type TokenCredential, type TokenId, TokenStore } from "@ibex/domain"
import { Effect, Layer, Option, PubSub } from "effect"
import { storeOperation } from "./errors.js"
import { captureDatabase, withOrg, withoutOrg } from "./PgClientLive.js"
import { RevocationHub } from "./RevocationHub.js"
import {
  type CredentialRow,
  credentialFromRow,
  permissionsToDb,
  TOKEN_COLUMNS,
  type TokenRow,
  tokenInfoFromRow
} from "./rows.js"

interface ListRow extends TokenRow {
  readonly cursor_ts: string
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const cursorTsPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$/

/** Keyset cursor: the last row's creation time (UTC, microseconds) and id, base64url. Opaque to callers. */
const encodeCursor = (row: ListRow): string => Buffer.from(`${row.cursor_ts}|${row.id}`, "utf8").toString("base64url")

/** A cursor that is not one of ours decodes to "past the end": an empty page, never another org's rows. */
const decodeCursor = (cursor: string | null): { ts: string; id: string } | "invalid" | null => {
  if (cursor === null) return null
  if (cursor.length > 200) return "invalid"
  const [ts, id, ...rest] = Buffer.from(cursor, "base64url").toString("utf8").split("|")
  if (rest.length > 0 || ts === undefined || id === undefined) return "invalid"
  return cursorTsPattern.test(ts) && uuidPattern.test(id) ? { ts, id } : "invalid"
}

/**
 * TokenStore on Postgres. Tenant operations run under `withOrg`; the pre-tenant lookup and the
 * last-used bookkeeping go through their SECURITY DEFINER functions. The store never sees a
 * plaintext secret: it stores the hash it is given.
 */
export const TokenStoreLive = Layer.effect(
  TokenStore,
  Effect.gen(function* () {
    const { sql, provide } = yield* captureDatabase
    const hub = yield* RevocationHub
    const columns = sql.literal(TOKEN_COLUMNS)

    return TokenStore.of({
      findCredential: (tokenId) =>
        withoutOrg(
          sql<CredentialRow>`SELECT * FROM ibex_core.find_token_credential(${tokenId})`.pipe(
            Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), credentialFromRow))
          )
        ).pipe(
          provide,
          Effect.map((found): Option.Option<TokenCredential> => found),
          storeOperation("TokenStore.findCredential")
        ),

      // The same narrow function, once per id, in one statement: no wider pre-tenant read exists.
      findCredentials: (tokenIds) =>
        tokenIds.length === 0
          ? Effect.succeed([]).pipe(storeOperation("TokenStore.findCredentials"))
          : withoutOrg(
              sql<CredentialRow>`
                SELECT c.* FROM unnest(${tokenIds}::uuid[]) AS ids(id),
                  LATERAL ibex_core.find_token_credential(ids.id) AS c`.pipe(
                Effect.map((rows): ReadonlyArray<TokenCredential> => rows.map(credentialFromRow))
              )
            ).pipe(provide, storeOperation("TokenStore.findCredentials")),

      insert: (token) =>
        withOrg(
          token.orgId,
          sql<TokenRow>`
            INSERT INTO ibex_core.tokens
              (id, org_id, name, display_prefix, secret_hash, permissions, created_by, expires_at, parent_token_id)
            VALUES (${token.id}, ${token.orgId}, ${token.name}, ${token.displayPrefix}, ${token.secretHash},
                    ${permissionsToDb(token.permissions)}::numeric, ${token.createdBy}, ${token.expiresAt},
                    ${token.parentTokenId})
            RETURNING ${columns}`.pipe(
            Effect.flatMap((rows) =>
              rows[0] === undefined ? Effect.dieMessage("insert returned no row") : Effect.succeed(rows[0])
            ),
            Effect.map(tokenInfoFromRow)
          )
        ).pipe(provide, storeOperation("TokenStore.insert")),

      list: (orgId, page) => {
        const after = decodeCursor(page.cursor)
        const limit = Math.max(1, Math.min(Math.floor(page.limit), 1000))
        if (after === "invalid")
          return Effect.succeed({ tokens: [], nextCursor: null }).pipe(storeOperation("TokenStore.list"))
        return withOrg(
          orgId,
          sql<ListRow>`
            SELECT ${columns},
                   to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS cursor_ts
            FROM ibex_core.tokens
            WHERE org_id = ${orgId}
              ${
                after === null
                  ? sql``
                  : sql`AND (created_at, id) < ((${after.ts}::timestamp AT TIME ZONE 'UTC'), ${after.id}::uuid)`
              }
            ORDER BY created_at DESC, id DESC
            LIMIT ${limit + 1}`
        ).pipe(
          Effect.map((rows) => {
            const pageRows = rows.slice(0, limit)
            const last = pageRows[pageRows.length - 1]
            return {
              tokens: pageRows.map(tokenInfoFromRow),
              nextCursor: rows.length > limit && last !== undefined ? encodeCursor(last) : null
            }
          }),
          provide,
          storeOperation("TokenStore.list")
        )
      },

      revoke: (orgId, tokenId) =>
        withOrg(
          orgId,
          Effect.gen(function* () {
            // The database's clock, never the caller's; the first revocation time wins, unless it lies
            // in the future (migration 0009 lets that be brought back to now). The
            // tokens_revoke_descendants trigger (0010) revokes every token minted under this one in
            // this same statement, and tokens_notify_revoked (0004) announces each id on
            // ibex_token_revoked, row by row, delivered at commit.
            const rows = yield* sql<TokenRow>`
              UPDATE ibex_core.tokens SET revoked_at = LEAST(COALESCE(revoked_at, now()), now())
              WHERE id = ${tokenId} AND org_id = ${orgId}
              RETURNING ${columns}`
            const row = rows[0]
            if (row === undefined) return Option.none<RevokedToken>()
            const descendants = yield* sql<{ id: string }>`
              WITH RECURSIVE tree(id) AS (
                SELECT t.id FROM ibex_core.tokens t WHERE t.parent_token_id = ${tokenId} AND t.org_id = ${orgId}
                UNION
                SELECT t.id FROM ibex_core.tokens t JOIN tree ON t.parent_token_id = tree.id
                WHERE t.org_id = ${orgId}
              )
              SELECT id FROM tree`
            return Option.some<RevokedToken>({
              info: tokenInfoFromRow(row),
              descendants: descendants.map((d) => d.id as TokenId)
            })
          })
        ).pipe(
          provide,
          // After commit: this process's own listeners hear each revocation without waiting for NOTIFY.
          Effect.tap((revoked) =>
            Option.isSome(revoked)
              ? PubSub.publishAll(
                  hub,
                  [tokenId, ...revoked.value.descendants].map((id) => RevocationEvent.Revoked({ tokenId: id }))
                )
              : Effect.void
          ),
          storeOperation("TokenStore.revoke")
        ),

      touchLastUsed: (tokenId, at) =>
        withoutOrg(sql`SELECT ibex_core.touch_token_last_used(${tokenId}, ${at})`).pipe(
          provide,
          Effect.asVoid,
          storeOperation("TokenStore.touchLastUsed")
        )
    })
  })
)
