import { describe, expect, layer } from "@effect/vitest"
import {
  Agent,
  type AgentId,
  AgentStore,
  displayPrefix,
  type OrgId,
  OrgStore,
  Permissions,
  PlatformAdmin,
  type PlatformAdminId,
  PlatformAdminStore,
  type RevocationEvent,
  RevocationFeed,
  type SecretHasher,
  type SecureRandom,
  type TokenId,
  TokenStore,
  User,
  type UserId,
  UserStore,
  uuidFromBytes
} from "@ibex/domain"
import { Chunk, Clock, Effect, Exit, Fiber, type Layer, Option, Stream } from "effect"
import { bootstrapAdminToken, createAgent, createOrg, setupTwoOrgs } from "../fixtures/twoOrgs.js"

/** What every store contract needs: the stores under test plus the hasher and randomness fixtures use. */
export type StoreServices =
  | TokenStore
  | AgentStore
  | OrgStore
  | UserStore
  | RevocationFeed
  | SecretHasher
  | SecureRandom

const randomId = <A extends string>() => uuidFromBytes(crypto.getRandomValues(new Uint8Array(16)), 4) as A

/**
 * The TokenStore contract, written once and run over every adapter (memory, Postgres, PGlite).
 * Cross-tenant cases are the point: another org's token must behave exactly like a missing one.
 */
export const tokenStoreContract = <E>(name: string, services: Layer.Layer<StoreServices, E>) =>
  layer(services, { excludeTestServices: true, timeout: "60 seconds" })(`TokenStore contract [${name}]`, (it) => {
    it.effect("insert then findCredential returns the row, its hash and the org's state", () =>
      Effect.gen(function* () {
        const org = yield* createOrg({ rateLimitPerMinute: 120 })
        const created = yield* bootstrapAdminToken(org.id)
        const store = yield* TokenStore
        const found = yield* store.findCredential(created.info.id)
        expect(Option.isSome(found)).toBe(true)
        const credential = Option.getOrThrow(found)
        expect(credential.info.id).toBe(created.info.id)
        expect(credential.info.orgId).toBe(org.id)
        expect(credential.info.permissions).toBe(Permissions.all)
        expect(credential.info.displayPrefix).toBe(displayPrefix(created.info.id))
        expect(credential.info.revokedAt).toBeNull()
        expect(credential.orgStatus).toBe("active")
        expect(credential.orgRateLimitPerMinute).toBe(120)
        expect(credential.secretHash.length).toBeGreaterThan(20)
      })
    )

    it.effect("findCredential of an unknown id is None", () =>
      Effect.gen(function* () {
        const store = yield* TokenStore
        expect(Option.isNone(yield* store.findCredential(randomId<TokenId>()))).toBe(true)
      })
    )

    it.effect(
      "findCredentials finds every org's tokens at once, each as findCredential does, and leaves unknown ids out",
      () =>
        Effect.gen(function* () {
          const store = yield* TokenStore
          const [orgA, orgB] = [yield* createOrg(), yield* createOrg()]
          const a = yield* bootstrapAdminToken(orgA.id)
          const b = yield* bootstrapAdminToken(orgB.id)
          const unknown = randomId<TokenId>()
          const found = yield* store.findCredentials([unknown, b.info.id, a.info.id, a.info.id])
          const byId = new Map(found.map((c) => [c.info.id, c]))
          // Duplicates may come back once or twice; what matters is that each found row is the row.
          expect(new Set(found.map((c) => c.info.id))).toEqual(new Set([a.info.id, b.info.id]))
          for (const id of [a.info.id, b.info.id])
            expect(byId.get(id)).toEqual(Option.getOrThrow(yield* store.findCredential(id)))
          expect(yield* store.findCredentials([])).toEqual([])
          expect(yield* store.findCredentials([randomId<TokenId>(), randomId<TokenId>()])).toEqual([])
        })
    )

    it.effect("permissions round-trip every bit up to 63", () =>
      Effect.gen(function* () {
        const org = yield* createOrg()
        const store = yield* TokenStore
        const high = Permissions.unsafeFromBigInt((1n << 63n) | (1n << 62n) | 5n)
        const id = randomId<TokenId>()
        yield* store.insert({
          id,
          orgId: org.id,
          name: "high bits",
          displayPrefix: displayPrefix(id),
          secretHash: "$argon2id$placeholder-not-a-secret",
          permissions: high,
          createdBy: null,
          expiresAt: null,
          parentTokenId: null
        })
        const found = Option.getOrThrow(yield* store.findCredential(id))
        expect(found.info.permissions).toBe(high)
      })
    )

    it.effect("expiry and creator are stored", () =>
      Effect.gen(function* () {
        const org = yield* createOrg()
        const store = yield* TokenStore
        const users = yield* UserStore
        const now = yield* Clock.currentTimeMillis
        const user = yield* users.insert(
          new User({
            id: randomId<UserId>(),
            orgId: org.id,
            email: "a@example.test",
            displayName: "A",
            createdAt: new Date(now)
          })
        )
        const id = randomId<TokenId>()
        const expiresAt = new Date(Math.floor(now / 1000) * 1000 + 3_600_000)
        const info = yield* store.insert({
          id,
          orgId: org.id,
          name: "expiring",
          displayPrefix: displayPrefix(id),
          secretHash: "$argon2id$placeholder-not-a-secret",
          permissions: Permissions.of("probe:read"),
          createdBy: user.id,
          expiresAt,
          parentTokenId: null
        })
        expect(info.expiresAt?.getTime()).toBe(expiresAt.getTime())
        expect(info.createdBy).toBe(user.id)
        expect(Math.abs(info.createdAt.getTime() - now)).toBeLessThan(60_000)
      })
    )

    it.effect("list shows only the org's tokens, newest first, and never a hash", () =>
      Effect.gen(function* () {
        const { orgA, orgB } = yield* setupTwoOrgs()
        const store = yield* TokenStore
        const page = yield* store.list(orgA.orgId, { limit: 100, cursor: null })
        const ids = page.tokens.map((t) => t.id)
        expect(ids).toHaveLength(6)
        for (const t of Object.values(orgA.tokens)) expect(ids).toContain(t.info.id)
        for (const t of Object.values(orgB.tokens)) expect(ids).not.toContain(t.info.id)
        for (const t of page.tokens) {
          expect(t.orgId).toBe(orgA.orgId)
          expect(Object.keys(t)).not.toContain("secretHash")
          expect(JSON.stringify(t, (_k, v) => (typeof v === "bigint" ? v.toString() : v))).not.toMatch(
            /argon2|memhash/i
          )
        }
        const times = page.tokens.map((t) => t.createdAt.getTime())
        expect([...times].sort((a, b) => b - a)).toEqual(times)
        expect(page.nextCursor).toBeNull()
      })
    )

    it.effect("list pages through every token exactly once", () =>
      Effect.gen(function* () {
        const { orgA } = yield* setupTwoOrgs()
        const store = yield* TokenStore
        const seen: Array<string> = []
        let cursor: string | null = null
        for (let i = 0; i < 10; i++) {
          const page: { tokens: ReadonlyArray<{ id: string }>; nextCursor: string | null } = yield* store.list(
            orgA.orgId,
            { limit: 4, cursor }
          )
          seen.push(...page.tokens.map((t) => t.id))
          cursor = page.nextCursor
          if (cursor === null) break
        }
        expect(seen).toHaveLength(6)
        expect(new Set(seen).size).toBe(6)
      })
    )

    it.effect("a cursor the store did not issue is refused: an empty last page, never an error or a row", () =>
      Effect.gen(function* () {
        const { orgA, orgB } = yield* setupTwoOrgs()
        const store = yield* TokenStore
        const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64url")
        const garbage = [
          "not-a-cursor' OR 1=1 --",
          "",
          " ",
          "x".repeat(500),
          "-1.-1",
          "0.0' OR '1'='1",
          "%00",
          "\u0000",
          "\u{1F642}",
          b64("' OR 1=1 --|x"),
          b64(`not-a-time|${orgB.tokens.full.info.id}`),
          b64(`2999-01-01T00:00:00.000000|${orgB.tokens.full.info.id}|extra`)
        ]
        for (const cursor of garbage) {
          const page = yield* store.list(orgA.orgId, { limit: 100, cursor })
          expect(page.tokens, `cursor ${JSON.stringify(cursor)}: no rows`).toEqual([])
          expect(page.nextCursor, `cursor ${JSON.stringify(cursor)}: last page`).toBeNull()
        }
      })
    )

    it.effect("a cursor issued for another org's listing never yields that org's rows", () =>
      Effect.gen(function* () {
        const { orgA, orgB } = yield* setupTwoOrgs()
        const store = yield* TokenStore
        const first = yield* store.list(orgB.orgId, { limit: 2, cursor: null })
        expect(first.nextCursor).not.toBeNull()
        const page = yield* store.list(orgA.orgId, { limit: 100, cursor: first.nextCursor })
        const orgBIds = Object.values(orgB.tokens).map((t) => t.info.id as string)
        for (const t of page.tokens) {
          expect(t.orgId).toBe(orgA.orgId)
          expect(orgBIds).not.toContain(t.id)
        }
      })
    )

    it.effect(
      "revoke within the org sets revoked_at once, from the store's clock; a second revoke keeps the first time",
      () =>
        Effect.gen(function* () {
          const { orgA } = yield* setupTwoOrgs()
          const store = yield* TokenStore
          const target = orgA.tokens.readOnly.info.id
          const before = Date.now()
          const revoked = Option.getOrThrow(yield* store.revoke(orgA.orgId, target))
          const first = revoked.info.revokedAt?.getTime() ?? Number.NaN
          // The store's own clock (Postgres: now()), on this machine within a minute of ours.
          expect(Math.abs(first - before)).toBeLessThan(60_000)
          yield* Effect.sleep("20 millis")
          const again = yield* store.revoke(orgA.orgId, target)
          expect(Option.getOrThrow(again).info.revokedAt?.getTime()).toBe(first)
          const credential = Option.getOrThrow(yield* store.findCredential(target))
          expect(credential.info.revokedAt?.getTime()).toBe(first)
        })
    )

    it.effect("cross-tenant revoke is None and leaves the token untouched", () =>
      Effect.gen(function* () {
        const { orgA, orgB } = yield* setupTwoOrgs()
        const store = yield* TokenStore
        const victim = orgB.tokens.full.info.id
        const result = yield* store.revoke(orgA.orgId, victim)
        expect(Option.isNone(result)).toBe(true)
        expect(Option.getOrThrow(yield* store.findCredential(victim)).info.revokedAt).toBeNull()
      })
    )

    it.effect("revoke of an unknown token is None", () =>
      Effect.gen(function* () {
        const { orgA } = yield* setupTwoOrgs()
        const store = yield* TokenStore
        expect(Option.isNone(yield* store.revoke(orgA.orgId, randomId<TokenId>()))).toBe(true)
      })
    )

    // Issue 14, item 2: a child token never outlives its parent.
    const insertToken = (
      orgId: OrgId,
      fields: { readonly parentTokenId?: TokenId | null; readonly expiresAt?: Date | null; readonly name?: string } = {}
    ) =>
      Effect.gen(function* () {
        const store = yield* TokenStore
        const id = randomId<TokenId>()
        return yield* store.insert({
          id,
          orgId,
          name: fields.name ?? "tree",
          displayPrefix: displayPrefix(id),
          secretHash: "$argon2id$placeholder-not-a-secret",
          permissions: Permissions.of("probe:read"),
          createdBy: null,
          expiresAt: fields.expiresAt ?? null,
          parentTokenId: fields.parentTokenId ?? null
        })
      })
    const wholeSecond = (ms: number) => new Date(Math.floor(ms / 1000) * 1000)

    it.effect("a child's expiry is capped at its parent's: no expiry or a later one becomes the parent's", () =>
      Effect.gen(function* () {
        const org = yield* createOrg()
        const parentExpiry = wholeSecond(Date.now() + 3_600_000)
        const parent = yield* insertToken(org.id, { expiresAt: parentExpiry })
        const never = yield* insertToken(org.id, { parentTokenId: parent.id })
        expect(never.expiresAt?.getTime()).toBe(parentExpiry.getTime())
        const later = yield* insertToken(org.id, {
          parentTokenId: parent.id,
          expiresAt: new Date(parentExpiry.getTime() + 86_400_000)
        })
        expect(later.expiresAt?.getTime()).toBe(parentExpiry.getTime())
        const sooner = wholeSecond(Date.now() + 600_000)
        expect((yield* insertToken(org.id, { parentTokenId: parent.id, expiresAt: sooner })).expiresAt?.getTime()).toBe(
          sooner.getTime()
        )
        // A grandchild is capped through its parent; a parent without expiry caps nothing.
        const grandchild = yield* insertToken(org.id, { parentTokenId: never.id })
        expect(grandchild.expiresAt?.getTime()).toBe(parentExpiry.getTime())
        const root = yield* insertToken(org.id)
        expect((yield* insertToken(org.id, { parentTokenId: root.id })).expiresAt).toBeNull()
        const stored = Option.getOrThrow(yield* (yield* TokenStore).findCredential(never.id))
        expect(stored.info.expiresAt?.getTime()).toBe(parentExpiry.getTime())
      })
    )

    it.effect("a child of a revoked, missing or other org's token is refused", () =>
      Effect.gen(function* () {
        const { orgA, orgB } = yield* setupTwoOrgs()
        const refused = (parentTokenId: TokenId) =>
          Effect.map(Effect.exit(insertToken(orgA.orgId, { parentTokenId })), Exit.isFailure)
        expect(yield* refused(orgA.tokens.revoked.info.id)).toBe(true)
        expect(yield* refused(randomId<TokenId>())).toBe(true)
        expect(yield* refused(orgB.tokens.full.info.id)).toBe(true)
        expect(yield* refused(orgA.tokens.full.info.id)).toBe(false)
      })
    )

    it.effect("revoking a token revokes every descendant in one go, names them, and leaves everything else", () =>
      Effect.gen(function* () {
        const { orgA, orgB } = yield* setupTwoOrgs()
        const store = yield* TokenStore
        const parent = yield* insertToken(orgA.orgId, { name: "parent" })
        const child = yield* insertToken(orgA.orgId, { parentTokenId: parent.id, name: "child" })
        const grandchild = yield* insertToken(orgA.orgId, { parentTokenId: child.id, name: "grandchild" })
        const secondChild = yield* insertToken(orgA.orgId, { parentTokenId: parent.id, name: "second child" })
        const sibling = yield* insertToken(orgA.orgId, { name: "sibling" })
        const nephew = yield* insertToken(orgA.orgId, { parentTokenId: sibling.id, name: "nephew" })
        // Revoking a child leaves its parent and its sibling alone.
        const childOnly = Option.getOrThrow(yield* store.revoke(orgA.orgId, secondChild.id))
        expect(childOnly.descendants).toEqual([])
        expect(Option.getOrThrow(yield* store.findCredential(parent.id)).info.revokedAt).toBeNull()
        const revoked = Option.getOrThrow(yield* store.revoke(orgA.orgId, parent.id))
        expect(revoked.info.id).toBe(parent.id)
        expect([...revoked.descendants].sort()).toEqual([child.id, grandchild.id, secondChild.id].sort())
        for (const t of [parent, child, grandchild]) {
          const stored = Option.getOrThrow(yield* store.findCredential(t.id))
          expect(stored.info.revokedAt, t.name).not.toBeNull()
        }
        for (const t of [sibling, nephew, orgA.tokens.full.info, orgB.tokens.full.info])
          expect(Option.getOrThrow(yield* store.findCredential(t.id)).info.revokedAt, t.name).toBeNull()
        // Another org cannot reach the tree.
        expect(Option.isNone(yield* store.revoke(orgB.orgId, sibling.id))).toBe(true)
        expect(Option.getOrThrow(yield* store.findCredential(nephew.id)).info.revokedAt).toBeNull()
      })
    )

    it.effect("touchLastUsed records the time", () =>
      Effect.gen(function* () {
        const { orgA } = yield* setupTwoOrgs()
        const store = yield* TokenStore
        const at = new Date(Math.floor(Date.now() / 1000) * 1000)
        yield* store.touchLastUsed(orgA.tokens.full.info.id, at)
        const found = Option.getOrThrow(yield* store.findCredential(orgA.tokens.full.info.id))
        expect(found.info.lastUsedAt?.getTime()).toBe(at.getTime())
      })
    )

    it.effect("disabling an org shows in the credential", () =>
      Effect.gen(function* () {
        const { orgA } = yield* setupTwoOrgs()
        const orgs = yield* OrgStore
        yield* orgs.setStatus(orgA.orgId, "disabled")
        const store = yield* TokenStore
        expect(Option.getOrThrow(yield* store.findCredential(orgA.tokens.full.info.id)).orgStatus).toBe("disabled")
      })
    )
  })

export const agentStoreContract = <E>(name: string, services: Layer.Layer<StoreServices, E>) =>
  layer(services, { excludeTestServices: true, timeout: "60 seconds" })(`AgentStore contract [${name}]`, (it) => {
    it.effect("find within the org returns the agent with its status", () =>
      Effect.gen(function* () {
        const { orgA } = yield* setupTwoOrgs()
        const agents = yield* AgentStore
        for (const status of ["active", "paused", "archived", "suspended"] as const) {
          const found = Option.getOrThrow(yield* agents.find(orgA.orgId, orgA.agents[status]))
          expect(found.status).toBe(status)
          expect(found.orgId).toBe(orgA.orgId)
        }
      })
    )

    it.effect("another org's agent is None, like a missing one", () =>
      Effect.gen(function* () {
        const { orgA, orgB } = yield* setupTwoOrgs()
        const agents = yield* AgentStore
        expect(Option.isNone(yield* agents.find(orgA.orgId, orgB.agentId))).toBe(true)
        expect(Option.isNone(yield* agents.find(orgA.orgId, randomId<AgentId>()))).toBe(true)
      })
    )

    it.effect("list shows only the org's agents", () =>
      Effect.gen(function* () {
        const { orgA, orgB } = yield* setupTwoOrgs()
        const agents = yield* AgentStore
        const listed = yield* agents.list(orgA.orgId)
        expect(listed.map((a) => a.id).sort()).toEqual(Object.values(orgA.agents).sort())
        expect(listed.map((a) => a.id)).not.toContain(orgB.agentId)
      })
    )

    it.effect("setStatus within the org changes it; across orgs it is None and changes nothing", () =>
      Effect.gen(function* () {
        const { orgA, orgB } = yield* setupTwoOrgs()
        const agents = yield* AgentStore
        const paused = yield* agents.setStatus(orgA.orgId, orgA.agentId, "paused")
        expect(Option.getOrThrow(paused).status).toBe("paused")
        expect(Option.isNone(yield* agents.setStatus(orgA.orgId, orgB.agentId, "suspended"))).toBe(true)
        expect(Option.getOrThrow(yield* agents.find(orgB.orgId, orgB.agentId)).status).toBe("active")
      })
    )

    it.effect("insert keeps name and creation time", () =>
      Effect.gen(function* () {
        const org = yield* createOrg()
        const agent = yield* createAgent(org.id, "active", "named-agent")
        const agents = yield* AgentStore
        const found = Option.getOrThrow(yield* agents.find(org.id, agent.id))
        expect(found).toBeInstanceOf(Agent)
        expect(found.name).toBe("named-agent")
      })
    )
  })

export const orgStoreContract = <E>(name: string, services: Layer.Layer<StoreServices, E>) =>
  layer(services, { excludeTestServices: true, timeout: "60 seconds" })(
    `OrgStore and UserStore contract [${name}]`,
    (it) => {
      it.effect("insert, find, findByName, setStatus", () =>
        Effect.gen(function* () {
          const org = yield* createOrg({ rateLimitPerMinute: 30 })
          const orgs = yield* OrgStore
          const found = Option.getOrThrow(yield* orgs.find(org.id))
          expect(found.name).toBe(org.name)
          expect(found.rateLimitPerMinute).toBe(30)
          expect(Option.getOrThrow(yield* orgs.findByName(org.name)).id).toBe(org.id)
          expect(Option.getOrThrow(yield* orgs.setStatus(org.id, "disabled")).status).toBe("disabled")
          expect(Option.isNone(yield* orgs.find(randomId<OrgId>()))).toBe(true)
          expect(Option.isNone(yield* orgs.findByName(`missing-${randomId<string>()}`))).toBe(true)
        })
      )

      it.effect("list, rename, setRateLimit (set and cleared); an unknown org is None", () =>
        Effect.gen(function* () {
          const org = yield* createOrg({ rateLimitPerMinute: null })
          const other = yield* createOrg({ rateLimitPerMinute: 5 })
          const orgs = yield* OrgStore
          const listed = (yield* orgs.list).map((o) => o.id)
          expect(listed).toEqual(expect.arrayContaining([org.id, other.id]))
          const newName = `renamed-${randomId<string>()}`
          expect(Option.getOrThrow(yield* orgs.rename(org.id, newName)).name).toBe(newName)
          expect(Option.getOrThrow(yield* orgs.findByName(newName)).id).toBe(org.id)
          expect(Option.isNone(yield* orgs.findByName(org.name))).toBe(true)
          expect(Option.getOrThrow(yield* orgs.setRateLimit(org.id, 42)).rateLimitPerMinute).toBe(42)
          expect(Option.getOrThrow(yield* orgs.find(org.id)).rateLimitPerMinute).toBe(42)
          expect(Option.getOrThrow(yield* orgs.setRateLimit(org.id, null)).rateLimitPerMinute).toBeNull()
          // The other org is untouched.
          expect(Option.getOrThrow(yield* orgs.find(other.id))).toMatchObject({
            name: other.name,
            rateLimitPerMinute: 5
          })
          expect(Option.isNone(yield* orgs.rename(randomId<OrgId>(), `x-${randomId<string>()}`))).toBe(true)
          expect(Option.isNone(yield* orgs.setRateLimit(randomId<OrgId>(), 3))).toBe(true)
        })
      )

      it.effect("users are found only within their org", () =>
        Effect.gen(function* () {
          const { orgA, orgB } = yield* setupTwoOrgs()
          const users = yield* UserStore
          const now = yield* Clock.currentTimeMillis
          const user = yield* users.insert(
            new User({
              id: randomId<UserId>(),
              orgId: orgA.orgId,
              email: "u@example.test",
              displayName: "U",
              createdAt: new Date(now)
            })
          )
          expect(Option.getOrThrow(yield* users.find(orgA.orgId, user.id)).email).toBe("u@example.test")
          expect(Option.isNone(yield* users.find(orgB.orgId, user.id))).toBe(true)
        })
      )
    }
  )

/**
 * The RevocationFeed contract: a subscriber is told Connected, then sees every revocation
 * made through the TokenStore after that.
 */
export const revocationFeedContract = <E>(name: string, services: Layer.Layer<StoreServices, E>) =>
  layer(services, { excludeTestServices: true, timeout: "60 seconds" })(`RevocationFeed contract [${name}]`, (it) => {
    it.scoped("a revocation reaches a subscriber", () =>
      Effect.gen(function* () {
        const { orgA } = yield* setupTwoOrgs()
        const feed = yield* RevocationFeed
        const store = yield* TokenStore
        const target = orgA.tokens.full.info.id
        const seen = yield* feed.subscribe.pipe(
          Stream.filter(
            (e: RevocationEvent) => e._tag === "Connected" || (e._tag === "Revoked" && e.tokenId === target)
          ),
          Stream.take(2),
          Stream.runCollect,
          Effect.fork
        )
        // Give the subscriber a moment to be listening before revoking.
        yield* Effect.sleep("100 millis")
        yield* store.revoke(orgA.orgId, target)
        const events = Chunk.toReadonlyArray(yield* Fiber.join(seen).pipe(Effect.timeout("5 seconds")))
        expect(events.map((e) => e._tag)).toEqual(["Connected", "Revoked"])
      })
    )

    it.scoped("revoking a token pushes a revocation for it and for each token minted under it", () =>
      Effect.gen(function* () {
        const { orgA } = yield* setupTwoOrgs()
        const feed = yield* RevocationFeed
        const store = yield* TokenStore
        const parent = orgA.tokens.full.info.id
        const mint = (parentTokenId: TokenId) =>
          Effect.gen(function* () {
            const id = randomId<TokenId>()
            yield* store.insert({
              id,
              orgId: orgA.orgId,
              name: "descendant",
              displayPrefix: displayPrefix(id),
              secretHash: "$argon2id$placeholder-not-a-secret",
              permissions: Permissions.of("probe:read"),
              createdBy: null,
              expiresAt: null,
              parentTokenId
            })
            return id
          })
        const child = yield* mint(parent)
        const grandchild = yield* mint(child)
        const expected = new Set<string>([parent, child, grandchild])
        const heard = new Set<string>()
        const listening = yield* feed.subscribe.pipe(
          Stream.tap((e: RevocationEvent) =>
            Effect.sync(() => {
              if (e._tag === "Revoked" && expected.has(e.tokenId)) heard.add(e.tokenId)
            })
          ),
          Stream.takeUntil(() => heard.size === expected.size),
          Stream.runDrain,
          Effect.fork
        )
        yield* Effect.sleep("100 millis")
        yield* store.revoke(orgA.orgId, parent)
        yield* Fiber.join(listening).pipe(Effect.timeout("5 seconds"), Effect.ignore)
        expect([...heard].sort()).toEqual([...expected].sort())
      })
    )

    it.scoped("an agent's status change reaches a subscriber", () =>
      Effect.gen(function* () {
        const { orgA } = yield* setupTwoOrgs()
        const feed = yield* RevocationFeed
        const agents = yield* AgentStore
        const target = orgA.agentId
        const seen = yield* feed.subscribe.pipe(
          Stream.filter(
            (e: RevocationEvent) => e._tag === "Connected" || (e._tag === "AgentChanged" && e.agentId === target)
          ),
          Stream.take(2),
          Stream.runCollect,
          Effect.fork
        )
        yield* Effect.sleep("100 millis")
        yield* agents.setStatus(orgA.orgId, target, "suspended")
        const events = Chunk.toReadonlyArray(yield* Fiber.join(seen).pipe(Effect.timeout("5 seconds")))
        expect(events.map((e) => e._tag)).toEqual(["Connected", "AgentChanged"])
      })
    )
  })

/** All store contracts for one adapter set. */
export const storeContracts = <E>(name: string, services: Layer.Layer<StoreServices, E>) =>
  describe(`store contracts [${name}]`, () => {
    tokenStoreContract(name, services)
    agentStoreContract(name, services)
    orgStoreContract(name, services)
    revocationFeedContract(name, services)
  })

/**
 * The PlatformAdminStore contract, over the database owner's view (the writes and the list are
 * the owner's; the auth service only looks credentials up). Never a hash out of `list`; revoking
 * twice keeps the first time; an unknown id is None.
 */
export const platformAdminStoreContract = <E>(name: string, services: Layer.Layer<PlatformAdminStore, E>) =>
  layer(services, { excludeTestServices: true, timeout: "60 seconds" })(
    `PlatformAdminStore contract [${name}]`,
    (it) => {
      it.effect("insert, findCredential, list, revoke (first time wins), unknown id is None", () =>
        Effect.gen(function* () {
          const store = yield* PlatformAdminStore
          const id = randomId<PlatformAdminId>()
          const admin = yield* store.insert({ id, name: "ops", secretHash: "$argon2id$v=19$fake" })
          expect(admin).toBeInstanceOf(PlatformAdmin)
          expect(admin).toMatchObject({ id, name: "ops", revokedAt: null })
          const found = Option.getOrThrow(yield* store.findCredential(id))
          expect(found.secretHash).toBe("$argon2id$v=19$fake")
          expect(found.admin.id).toBe(id)
          const listed = yield* store.list
          expect(listed.map((a) => a.id)).toContain(id)
          for (const a of listed) expect(JSON.stringify(a)).not.toContain("$argon2id")
          const at = new Date(Math.floor((yield* Clock.currentTimeMillis) / 1000) * 1000)
          const revoked = Option.getOrThrow(yield* store.revoke(id, at))
          expect(revoked.revokedAt?.getTime()).toBe(at.getTime())
          const again = Option.getOrThrow(yield* store.revoke(id, new Date(at.getTime() + 60_000)))
          expect(again.revokedAt?.getTime()).toBe(at.getTime())
          expect(Option.getOrThrow(yield* store.findCredential(id)).admin.revokedAt?.getTime()).toBe(at.getTime())
          expect(Option.isNone(yield* store.findCredential(randomId<PlatformAdminId>()))).toBe(true)
          expect(Option.isNone(yield* store.revoke(randomId<PlatformAdminId>(), at))).toBe(true)
        })
      )
    }
  )
