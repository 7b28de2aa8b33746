import { randomUUID } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { type OrgId, OrgStore, type TokenId, TokenStore } from "@ibex/domain"
import type { ProvisionedDatabase } from "@ibex/testkit/provision"
import { provisionDatabase } from "@ibex/testkit/provision"
import { Cause, Effect, Exit, Layer, Redacted } from "effect"
import { PersistenceLive } from "../src/PersistenceLive.js"
import { appConfig, backends, migrations, rawClient } from "./provision.js"

/** Whatever fails underneath, a caller gets StoreUnavailable({ operation }) and nothing of the SQL or the driver. */
const leaks = /select|insert|update|from|ibex_core|permission|denied|relation|function|syntax|ECONNREFUSED|password/i

for (const backend of backends) {
  describe(`store failures [${backend}]`, () => {
    let db: ProvisionedDatabase
    beforeAll(async () => {
      db = await provisionDatabase({ migrations, backend })
    })
    afterAll(async () => {
      await db?.drop()
    })

    it.live("a failing statement becomes StoreUnavailable with the operation's name only", () =>
      Effect.gen(function* () {
        const owner = yield* Effect.promise(() => rawClient(db.url))
        // Break the pre-tenant path and the org table for the app role.
        yield* Effect.promise(() =>
          owner.query(`
            REVOKE EXECUTE ON FUNCTION ibex_core.find_token_credential(uuid) FROM ibex_app;
            REVOKE SELECT ON ibex_core.organizations FROM ibex_app;`)
        )
        try {
          const tokens = yield* TokenStore
          const orgs = yield* OrgStore
          const exits: ReadonlyArray<readonly [string, Exit.Exit<unknown, unknown>]> = [
            ["TokenStore.findCredential", yield* Effect.exit(tokens.findCredential(randomUUID() as TokenId))],
            ["TokenStore.findCredentials", yield* Effect.exit(tokens.findCredentials([randomUUID() as TokenId]))],
            ["OrgStore.find", yield* Effect.exit(orgs.find(randomUUID() as OrgId))]
          ]
          for (const [operation, exit] of exits) {
            if (Exit.isSuccess(exit)) throw new Error(`${operation} should have failed`)
            const failures = [...Cause.failures(exit.cause)]
            expect(failures).toHaveLength(1)
            expect(failures[0]).toMatchObject({ _tag: "StoreUnavailable", operation })
            expect([...Cause.defects(exit.cause)]).toHaveLength(0)
            const rendered = `${JSON.stringify(failures[0])} ${String(failures[0])} ${Cause.pretty(exit.cause)}`
            expect(rendered.replaceAll(operation, "")).not.toMatch(leaks)
          }
        } finally {
          yield* Effect.promise(() =>
            owner
              .query(`
                GRANT EXECUTE ON FUNCTION ibex_core.find_token_credential(uuid) TO ibex_app;
                GRANT SELECT ON ibex_core.organizations TO ibex_app;`)
              .finally(() => owner.end())
          )
        }
      }).pipe(Effect.provide(PersistenceLive(appConfig(db))))
    )
  })
}

describe("store failures [no server]", () => {
  it.live("a pool that cannot connect fails the layer with StoreUnavailable, nothing else", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(
        Layer.build(PersistenceLive({ url: Redacted.make("postgres://ibex_app@127.0.0.1:1/none") })).pipe(Effect.scoped)
      )
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        const failures = [...Cause.failures(exit.cause)]
        // The driver's code says why (a start that fails logs it); never its message, nor the URL's host or user.
        expect(failures).toEqual([
          expect.objectContaining({ _tag: "StoreUnavailable", operation: "PgClient.connect", detail: "ECONNREFUSED" })
        ])
        expect(Cause.pretty(exit.cause)).not.toMatch(/127\.0\.0\.1|ibex_app|connect ECONNREFUSED/)
      }
    })
  )
})
