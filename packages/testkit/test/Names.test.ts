import { expect, layer } from "@effect/vitest"
import { createOrgAgent, createOrgToken, createToken, onboardOrg, renameOrg, TokenValidator } from "@ibex/auth-core"
import { Permissions, type PlatformActor } from "@ibex/domain"
import { Effect, Either } from "effect"
import { setupTwoOrgs } from "../src/fixtures/twoOrgs.js"
import { authServicesMemory } from "../src/memory/AuthMemory.js"

/**
 * Issue 14, item 9: names (tokens, agents, orgs) refuse control characters — C0, DEL, C1 — and the
 * bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), with a
 * validation error naming the field. The use cases are what the gRPC services and the CLI run.
 */
const hostile: ReadonlyArray<readonly [string, string]> = [
  ["NUL", "a\u0000b"],
  ["a newline", "first\nsecond"],
  ["ESC (a terminal sequence)", "ok\u001b[2J\u001b[31mred"],
  ["DEL", "a\u007fb"],
  ["a C1 control (CSI)", "a\u009b31mb"],
  ["RIGHT-TO-LEFT OVERRIDE", "invoice\u202Efdp.exe"],
  ["LEFT-TO-RIGHT EMBEDDING", "a\u202Ab"],
  ["FIRST STRONG ISOLATE", "a\u2068b"],
  ["POP DIRECTIONAL ISOLATE", "a\u2069b"]
]

const admin: PlatformActor = { kind: "database_owner", name: "test" }

/** The field errors of a ValidationFailed, or "accepted". */
const refusal = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.either(effect), (result) =>
    Either.isLeft(result)
      ? result.left._tag === "ValidationFailed"
        ? (result.left as unknown as { fieldErrors: ReadonlyArray<{ field: string; message: string }> }).fieldErrors
        : result.left._tag
      : "accepted"
  )

layer(authServicesMemory(), { excludeTestServices: true })("names refuse control characters", (it) => {
  it.effect.each(hostile)("a token name with %s is refused (CreateToken and the platform's)", ([, name]) =>
    Effect.gen(function* () {
      const { orgA } = yield* setupTwoOrgs()
      const caller = yield* (yield* TokenValidator).validate(orgA.token)
      const asTenant = yield* refusal(createToken(caller, { name, permissions: Permissions.none, expiresAt: null }))
      expect(asTenant).toEqual([{ field: "name", message: expect.stringMatching(/control characters/) }])
      const asPlatform = yield* refusal(
        createOrgToken(admin, orgA.orgId, { name, permissions: Permissions.none, expiresAt: null })
      )
      expect(asPlatform).toEqual([{ field: "name", message: expect.stringMatching(/control characters/) }])
    })
  )

  it.effect.each(hostile)("an agent name, an org name and a rename with %s are refused", ([, name]) =>
    Effect.gen(function* () {
      const { orgA } = yield* setupTwoOrgs()
      expect(yield* refusal(createOrgAgent(admin, orgA.orgId, name))).toMatchObject([{ field: "name" }])
      expect(yield* refusal(onboardOrg(admin, { name, rateLimitPerMinute: null, tokenExpiresAt: null }))).toMatchObject(
        [{ field: "name" }]
      )
      expect(
        yield* refusal(
          onboardOrg(admin, {
            name: `ok-${crypto.randomUUID()}`,
            rateLimitPerMinute: null,
            tokenExpiresAt: null,
            agentName: name
          })
        )
      ).toMatchObject([{ field: "agent_name" }])
      expect(yield* refusal(renameOrg(admin, orgA.orgId, name))).toMatchObject([{ field: "name" }])
    })
  )

  it.effect("ordinary names, accents, other scripts and emoji pass", () =>
    Effect.gen(function* () {
      const { orgA } = yield* setupTwoOrgs()
      for (const name of ["ci-bot", "Zoë's token", "日本語のトークン", "עברית", "deploy 🚀"])
        expect(yield* refusal(createOrgAgent(admin, orgA.orgId, name))).toBe("accepted")
    })
  )
})
