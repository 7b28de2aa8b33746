import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { OrgId, TokenId } from "../src/ids.js"
import * as Permissions from "../src/Permissions.js"
import { checkTokenUsable, type TokenCredential, TokenInfo } from "../src/Token.js"

const now = new Date("2030-01-01T00:00:00Z")
const credential = (fields: { revokedAt?: Date | null; expiresAt?: Date | null }): TokenCredential => ({
  info: new TokenInfo({
    id: "00000000-0000-4000-8000-000000000001" as TokenId,
    orgId: "00000000-0000-4000-8000-00000000000a" as OrgId,
    name: "t",
    displayPrefix: "ibex_pat_00000000",
    permissions: Permissions.all,
    createdBy: null,
    createdAt: new Date(0),
    expiresAt: fields.expiresAt ?? null,
    revokedAt: fields.revokedAt ?? null,
    lastUsedAt: null
  }),
  secretHash: "$argon2id$placeholder",
  orgStatus: "active",
  orgRateLimitPerMinute: null,
  orgTokensPerMinute: null,
  orgMonthlyBudgetMicroUsd: null
})

describe("token validity rule", () => {
  it.effect("a token never revoked and not expired is usable", () =>
    Effect.gen(function* () {
      const principal = yield* checkTokenUsable(credential({}), now)
      expect(principal.permissions).toBe(Permissions.all)
    })
  )

  // Issue 14, item 3: any revoked_at means revoked, a future one included (a revocation written by a
  // clock ahead of ours must not leave the token working until that moment).
  it.effect.each([
    ["in the past", -60_000],
    ["now", 0],
    ["in the future", 86_400_000]
  ] as const)("a revoked_at %s means revoked", ([, offsetMs]) =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        checkTokenUsable(credential({ revokedAt: new Date(now.getTime() + offsetMs) }), now)
      )
      expect(error.reason).toBe("revoked")
    })
  )

  it.effect("an expiry at or before now means expired", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(checkTokenUsable(credential({ expiresAt: now }), now))
      expect(error.reason).toBe("expired")
    })
  )
})
