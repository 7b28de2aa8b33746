import { expect, layer } from "@effect/vitest"
import { createToken, issueToken, revokeToken, TokenValidator } from "@ibex/auth-core"
import {
  type AuditLog,
  AuthGateway,
  Permissions,
  SecretHasher,
  TokenDigest,
  TokenStore,
  uuidFromBytes
} from "@ibex/domain"
import { Clock, Effect, Either, type Layer, Option, Redacted } from "effect"
import { createOrg, type FixtureServices, setupTwoOrgs } from "../fixtures/twoOrgs.js"

const secret = (s: string) => Redacted.make(s)

/** The SecretHasher contract: salted, one-way, and a verify that answers false rather than failing. */
export const secretHasherContract = <E>(name: string, hasher: Layer.Layer<SecretHasher, E>) =>
  layer(hasher, { excludeTestServices: true, timeout: "60 seconds" })(`SecretHasher contract [${name}]`, (it) => {
    it.effect("a hash verifies its own secret and no other", () =>
      Effect.gen(function* () {
        const h = yield* SecretHasher
        const hash = yield* h.hash(secret("correct horse battery staple"))
        expect(yield* h.verify(hash, secret("correct horse battery staple"))).toBe(true)
        expect(yield* h.verify(hash, secret("correct horse battery stapler"))).toBe(false)
        expect(yield* h.verify(hash, secret(""))).toBe(false)
      })
    )
    it.effect("hashes are salted and never contain the secret", () =>
      Effect.gen(function* () {
        const h = yield* SecretHasher
        const a = yield* h.hash(secret("same-secret-0123456789"))
        const b = yield* h.hash(secret("same-secret-0123456789"))
        expect(a).not.toBe(b)
        expect(a).not.toContain("same-secret-0123456789")
        expect(a.startsWith("$")).toBe(true)
      })
    )
    it.effect("an unparseable hash verifies nothing (false, not a failure)", () =>
      Effect.gen(function* () {
        const h = yield* SecretHasher
        for (const bad of ["", "not-a-hash", "$argon2id$v=19$m=1,t=1,p=1$$", "$memhash$x$y"])
          expect(yield* h.verify(bad, secret("anything"))).toBe(false)
      })
    )
  })

/** The TokenDigest contract: deterministic, distinguishing, and not the token. */
export const tokenDigestContract = <E>(name: string, digest: Layer.Layer<TokenDigest, E>) =>
  layer(digest, { excludeTestServices: true })(`TokenDigest contract [${name}]`, (it) => {
    it.effect("same token, same digest; another token, another digest; never the token itself", () =>
      Effect.gen(function* () {
        const d = yield* TokenDigest
        // Built from parts: a synthetic token, and it should not look like a committed real one.
        const t1 = `ibex_pat_00000000-0000-4000-8000-000000000001_${"A".repeat(43)}`
        const t2 = `${t1.slice(0, -1)}B`
        expect(d.digest(secret(t1))).toBe(d.digest(secret(t1)))
        expect(d.digest(secret(t1))).not.toBe(d.digest(secret(t2)))
        expect(d.digest(secret(t1))).not.toContain(t1.slice(-43))
        expect(d.digest(secret(t1)).length).toBeGreaterThanOrEqual(32)
      })
    )
  })

/**
 * The AuthGateway contract: what the proxy relies on, over any adapter (in-process, gRPC). The
 * layer also provides the fixture services of the auth behind it, to make orgs.
 */
export const authGatewayContract = <E>(name: string, services: Layer.Layer<AuthGateway | FixtureServices, E>) =>
  layer(services, { excludeTestServices: true, timeout: "60 seconds" })(`AuthGateway contract [${name}]`, (it) => {
    it.effect("a valid token gives its org, id, permissions and the org's limit", () =>
      Effect.gen(function* () {
        const { orgA } = yield* setupTwoOrgs({ rateLimitPerMinute: 42 })
        const auth = yield* AuthGateway
        const p = yield* auth.validateToken(orgA.tokens.chatOnly.token)
        expect(p.orgId).toBe(orgA.orgId)
        expect(p.tokenId).toBe(orgA.tokens.chatOnly.info.id)
        expect(p.permissions).toBe(Permissions.of("chat:completions"))
        expect(p.rateLimitPerMinute).toBe(42)
      })
    )
    it.effect("malformed, unknown, revoked and expired tokens are all InvalidToken", () =>
      Effect.gen(function* () {
        const { orgA } = yield* setupTwoOrgs()
        const auth = yield* AuthGateway
        const unknown = `ibex_pat_${uuidFromBytes(crypto.getRandomValues(new Uint8Array(16)), 4)}_${Redacted.value(orgA.token).slice(-43)}`
        for (const t of ["nope", unknown, orgA.tokens.revoked.token, orgA.tokens.expired.token]) {
          const error = yield* Effect.flip(auth.validateToken(typeof t === "string" ? secret(t) : t))
          expect(error._tag).toBe("InvalidToken")
        }
      })
    )
    it.effect(
      "agents: active passes; missing or another org's is AGENT_NOT_AUTHORIZED; inactive is AGENT_SUSPENDED",
      () =>
        Effect.gen(function* () {
          const { orgA, orgB } = yield* setupTwoOrgs()
          const auth = yield* AuthGateway
          yield* auth.verifyAgent(orgA.orgId, orgA.agentId)
          expect((yield* Effect.flip(auth.verifyAgent(orgA.orgId, orgB.agentId)))._tag).toBe("AgentNotAuthorized")
          const missing = uuidFromBytes(crypto.getRandomValues(new Uint8Array(16)), 4) as typeof orgA.agentId
          expect((yield* Effect.flip(auth.verifyAgent(orgA.orgId, missing)))._tag).toBe("AgentNotAuthorized")
          for (const status of ["paused", "archived", "suspended"] as const) {
            const error = yield* Effect.flip(auth.verifyAgent(orgA.orgId, orgA.agents[status]))
            expect(error._tag).toBe("AgentSuspended")
            if (error._tag === "AgentSuspended") expect(error.status).toBe(status)
          }
        })
    )
  })

/**
 * Child tokens (issue 14, item 2), over the use cases and the caching validator on any store
 * adapter: a token minted by a token (CreateToken) never outlives it. Its expiry is capped at its
 * parent's (a later or no expiry asked for is capped, not refused), and revoking a token revokes
 * every token minted under it, at once on the revoking instance.
 */
export const childTokenContract = <E>(
  name: string,
  services: Layer.Layer<TokenValidator | AuditLog | FixtureServices, E>
) =>
  layer(services, { excludeTestServices: true, timeout: "60 seconds" })(`child tokens [${name}]`, (it) => {
    const HOUR = 3_600_000
    /** A full-permission token of a fresh org expiring in an hour (or never), and its validated principal. */
    const parentToken = (expiresInMs: number | null) =>
      Effect.gen(function* () {
        const org = yield* createOrg()
        const now = yield* Clock.currentTimeMillis
        const expiresAt = expiresInMs === null ? null : new Date(Math.floor(now / 1000) * 1000 + expiresInMs)
        const parent = yield* issueToken({
          orgId: org.id,
          name: "parent",
          permissions: Permissions.all,
          expiresAt,
          createdBy: null
        })
        const principal = yield* (yield* TokenValidator).validate(parent.token)
        return { org, parent, principal, expiresAt }
      })
    const child = (principal: Parameters<typeof createToken>[0], expiresAt: Date | null, label = "child") =>
      createToken(principal, {
        name: label,
        permissions: Permissions.of("chat:completions", "tokens:create"),
        expiresAt
      })

    it.effect("a child of an expiring token gets at most its parent's expiry: no expiry or a later one is capped", () =>
      Effect.gen(function* () {
        const { principal, expiresAt } = yield* parentToken(HOUR)
        const parentExpiry = expiresAt?.getTime()
        const never = yield* child(principal, null, "asked never")
        expect(never.info.expiresAt?.getTime()).toBe(parentExpiry)
        const later = yield* child(principal, new Date((parentExpiry ?? 0) + 24 * HOUR), "asked later")
        expect(later.info.expiresAt?.getTime()).toBe(parentExpiry)
        const earlier = new Date((parentExpiry ?? 0) - HOUR / 2)
        const sooner = yield* child(principal, earlier, "asked sooner")
        expect(sooner.info.expiresAt?.getTime()).toBe(earlier.getTime())
        // What the store keeps is what the response said.
        const stored = Option.getOrThrow(yield* (yield* TokenStore).findCredential(never.info.id))
        expect(stored.info.expiresAt?.getTime()).toBe(parentExpiry)
      })
    )

    it.effect("a child of a token without expiry keeps the expiry it asked for (or none)", () =>
      Effect.gen(function* () {
        const { principal } = yield* parentToken(null)
        expect((yield* child(principal, null)).info.expiresAt).toBeNull()
      })
    )

    it.effect("revoking a token revokes its children and grandchildren at once; siblings of the parent stay", () =>
      Effect.gen(function* () {
        const { org, parent, principal } = yield* parentToken(null)
        const validator = yield* TokenValidator
        const kid = yield* child(principal, null, "kid")
        const kidPrincipal = yield* validator.validate(kid.token)
        const grandkid = yield* child(kidPrincipal, null, "grandkid")
        yield* validator.validate(grandkid.token)
        const sibling = yield* issueToken({
          orgId: org.id,
          name: "sibling",
          permissions: Permissions.all,
          expiresAt: null,
          createdBy: null
        })
        const admin = yield* validator.validate(sibling.token)
        yield* revokeToken(admin, parent.info.id)
        for (const revoked of [parent, kid, grandkid]) {
          const result = yield* Effect.either(validator.validate(revoked.token))
          const verdict = Either.isLeft(result) && result.left._tag === "InvalidToken" ? result.left.reason : "accepted"
          expect(verdict, revoked.info.name).toBe("revoked")
          const stored = Option.getOrThrow(yield* (yield* TokenStore).findCredential(revoked.info.id))
          expect(stored.info.revokedAt, revoked.info.name).not.toBeNull()
        }
        expect((yield* validator.validate(sibling.token)).tokenId).toBe(sibling.info.id)
      })
    )

    it.effect("revoking a child leaves its parent working", () =>
      Effect.gen(function* () {
        const { parent, principal } = yield* parentToken(null)
        const validator = yield* TokenValidator
        const kid = yield* child(principal, null)
        yield* revokeToken(principal, kid.info.id)
        expect(Either.isLeft(yield* Effect.either(validator.validate(kid.token)))).toBe(true)
        expect((yield* validator.validate(parent.token)).tokenId).toBe(parent.info.id)
      })
    )
  })
