import { expect, layer } from "@effect/vitest"
import {
  type AgentId,
  type OrgId,
  OrgLimits,
  OrgLimitsStore,
  type RevocationEvent,
  RevocationFeed,
  type TokenId,
  TokenStore,
  UsageRecord,
  UsageStore,
  uuidFromBytes
} from "@ibex/domain"
import { Effect, Fiber, type Layer, Option, Stream } from "effect"
import { bootstrapAdminToken, createOrg } from "../fixtures/twoOrgs.js"
import type { StoreServices } from "./StoreContracts.js"

/** What the usage contract needs: the usage and limits stores beside the ones the fixtures use. */
export type UsageStoreServices = StoreServices | UsageStore | OrgLimitsStore

const randomId = <A extends string>() => uuidFromBytes(crypto.getRandomValues(new Uint8Array(16)), 4) as A

/** An org id no store has: sorts after every random one, so a batch reaches it last. */
const MISSING_ORG = "ffffffff-ffff-4fff-bfff-ffffffffffff" as OrgId

export const usageRecord = (
  orgId: OrgId,
  fields: Partial<Omit<ConstructorParameters<typeof UsageRecord>[0], "orgId">> = {}
): UsageRecord =>
  new UsageRecord({
    requestId: fields.requestId ?? randomId<string>(),
    orgId,
    agentId: fields.agentId ?? randomId<AgentId>(),
    tokenId: fields.tokenId ?? randomId<TokenId>(),
    model: fields.model ?? "gpt-test",
    provider: fields.provider ?? "mock",
    upstreamModel: fields.upstreamModel ?? "upstream-test",
    promptTokens: fields.promptTokens ?? 10,
    completionTokens: fields.completionTokens ?? 5,
    cachedTokens: fields.cachedTokens ?? 0,
    estimated: fields.estimated ?? false,
    costMicroUsd: fields.costMicroUsd ?? 100,
    status: fields.status ?? 200,
    latencyMs: fields.latencyMs ?? 120,
    timeToFirstTokenMs: fields.timeToFirstTokenMs ?? null,
    stream: fields.stream ?? false,
    createdAt: fields.createdAt ?? new Date("2025-03-10T12:00:00.000Z")
  })

const MARCH = { since: new Date("2025-03-01T00:00:00.000Z"), until: new Date("2025-04-01T00:00:00.000Z") }

const requestsOf = (orgId: OrgId, range: { since: Date; until: Date } = MARCH) =>
  Effect.flatMap(UsageStore, (store) => store.totals(orgId, { ...range, groupBy: "model" })).pipe(
    Effect.map((rows) => rows.reduce((n, r) => n + r.requests, 0))
  )

/**
 * The UsageStore and OrgLimitsStore contract, written once and run over every adapter (memory,
 * Postgres, PGlite): idempotency per (org, request id) under concurrency, batches that are all or
 * nothing and write each record under its own org, exact sums per group, the time range's
 * bounds, the month's spend, and limits that stay in their org and are announced when changed.
 */
export interface UsageContractOptions {
  /**
   * How many batches the concurrency cases run at once (default: all of them). PGlite over its
   * socket interleaves the wire-protocol messages of concurrent connections and then leaves a
   * client waiting for an answer forever (electric-sql/pglite#1046; with the revocation feed's
   * heartbeat connection beside a pool, 10 concurrent transactions hang), so its run passes 1.
   */
  readonly concurrency?: number | "unbounded" | undefined
}

export const usageStoreContract = <E>(
  name: string,
  services: Layer.Layer<UsageStoreServices, E>,
  options: UsageContractOptions = {}
) =>
  layer(services, { excludeTestServices: true, timeout: "60 seconds" })(`UsageStore contract [${name}]`, (it) => {
    it.effect("an empty batch stores nothing", () =>
      Effect.gen(function* () {
        const store = yield* UsageStore
        expect(yield* store.record([])).toEqual({ inserted: 0, duplicates: 0 })
      })
    )

    it.effect(
      "names and request ids with quotes, backslashes, commas, braces or the word NULL are stored as sent",
      () =>
        Effect.gen(function* () {
          const org = yield* createOrg()
          const store = yield* UsageStore
          // The characters an array literal or a VALUES list would have to escape, and nulls beside values.
          const names = ['a"b', "c\\d", "e,f{g}", "NULL", "", "  spaced  ", "ünï 模型 🦙", "'quoted'"]
          const records = names.map((name, i) =>
            usageRecord(org.id, {
              requestId: `req ${name} ${i}`,
              model: name,
              provider: name,
              upstreamModel: name,
              timeToFirstTokenMs: i % 2 === 0 ? null : i,
              stream: i % 2 === 1
            })
          )
          expect(yield* store.record(records)).toEqual({ inserted: names.length, duplicates: 0 })
          const keys = (yield* store.totals(org.id, { ...MARCH, groupBy: "model" })).map((r) => r.key)
          expect([...keys].sort()).toEqual([...names].sort())
          expect(yield* store.record(records), "the same request ids, read back as the same keys").toEqual({
            inserted: 0,
            duplicates: names.length
          })
        })
    )

    it.effect("group-by sums are exact per model, agent, UTC day and provider", () =>
      Effect.gen(function* () {
        const org = yield* createOrg()
        const store = yield* UsageStore
        const [agent1, agent2] = [randomId<AgentId>(), randomId<AgentId>()]
        const a = usageRecord(org.id, {
          model: "gpt-a",
          provider: "p1",
          agentId: agent1,
          promptTokens: 10,
          completionTokens: 5,
          cachedTokens: 2,
          costMicroUsd: 1234,
          // The last millisecond of March 4th in UTC, whatever the database's time zone.
          createdAt: new Date("2025-03-04T23:59:59.999Z")
        })
        const b = usageRecord(org.id, {
          model: "gpt-a",
          provider: "p2",
          agentId: agent2,
          promptTokens: 7,
          completionTokens: 3,
          cachedTokens: 0,
          costMicroUsd: 1,
          estimated: true,
          createdAt: new Date("2025-03-04T08:00:00.000Z")
        })
        const c = usageRecord(org.id, {
          model: "gpt-b",
          provider: "p1",
          agentId: agent1,
          promptTokens: 100_000,
          completionTokens: 2_000_000_000,
          cachedTokens: 25,
          costMicroUsd: 4_000_000_000_123,
          stream: true,
          timeToFirstTokenMs: 80,
          createdAt: new Date("2025-03-05T00:00:00.000Z")
        })
        expect(yield* store.record([a, b, c])).toEqual({ inserted: 3, duplicates: 0 })
        const totals = (groupBy: "model" | "agent" | "day" | "provider") => store.totals(org.id, { ...MARCH, groupBy })
        const sums = (key: string, rs: ReadonlyArray<UsageRecord>) => ({
          key,
          requests: rs.length,
          promptTokens: rs.reduce((n, r) => n + r.promptTokens, 0),
          completionTokens: rs.reduce((n, r) => n + r.completionTokens, 0),
          cachedTokens: rs.reduce((n, r) => n + r.cachedTokens, 0),
          costMicroUsd: rs.reduce((n, r) => n + r.costMicroUsd, 0),
          estimatedRequests: rs.filter((r) => r.estimated).length
        })
        expect(yield* totals("model")).toEqual([sums("gpt-a", [a, b]), sums("gpt-b", [c])])
        expect(yield* totals("provider")).toEqual([sums("p1", [a, c]), sums("p2", [b])])
        expect(yield* totals("day")).toEqual([sums("2025-03-04", [a, b]), sums("2025-03-05", [c])])
        expect(yield* totals("agent")).toEqual(
          [sums(agent1, [a, c]), sums(agent2, [b])].sort((x, y) => (x.key < y.key ? -1 : 1))
        )
        // The exact figures, not only the adapter agreeing with itself.
        expect((yield* totals("model"))[0]).toMatchObject({
          promptTokens: 17,
          costMicroUsd: 1235,
          estimatedRequests: 1
        })
        expect((yield* totals("model"))[1]).toMatchObject({
          completionTokens: 2_000_000_000,
          costMicroUsd: 4_000_000_000_123
        })
      })
    )

    it.effect("the same record sent in 10 concurrent batches is stored once", () =>
      Effect.gen(function* () {
        const org = yield* createOrg()
        const store = yield* UsageStore
        const shared = usageRecord(org.id, { costMicroUsd: 7 })
        const results = yield* Effect.all(
          Array.from({ length: 10 }, () => store.record([shared, usageRecord(org.id, { costMicroUsd: 1 })])),
          { concurrency: options.concurrency ?? "unbounded" }
        )
        expect(results.reduce((n, r) => n + r.inserted, 0)).toBe(11)
        expect(results.reduce((n, r) => n + r.duplicates, 0)).toBe(9)
        const rows = yield* store.totals(org.id, { ...MARCH, groupBy: "model" })
        expect(rows).toEqual([expect.objectContaining({ requests: 11, costMicroUsd: 17 })])
      })
    )

    it.effect("concurrent batches holding the same records in opposite orders neither deadlock nor double count", () =>
      Effect.gen(function* () {
        const org = yield* createOrg()
        const other = yield* createOrg()
        const store = yield* UsageStore
        const concurrency = options.concurrency ?? "unbounded"
        // Open the pool's connections first, so the batches below really overlap.
        yield* Effect.all(
          Array.from({ length: 10 }, () => requestsOf(org.id)),
          { concurrency }
        )
        for (let round = 0; round < 5; round++) {
          const records = [
            ...Array.from({ length: 6 }, () => usageRecord(org.id)),
            ...Array.from({ length: 6 }, () => usageRecord(other.id))
          ]
          // Half the batches go org A then B, the other half B then A, each in reverse.
          const results = yield* Effect.all(
            Array.from({ length: 10 }, (_, i) => store.record(i % 2 === 0 ? records : [...records].reverse())),
            { concurrency }
          )
          expect(results.reduce((n, r) => n + r.inserted, 0)).toBe(12)
          expect(results.reduce((n, r) => n + r.duplicates, 0)).toBe(108)
        }
        expect(yield* requestsOf(org.id)).toBe(30)
        expect(yield* requestsOf(other.id)).toBe(30)
      })
    )

    it.effect("a repeated request id is one record, the first write wins, within a batch and across batches", () =>
      Effect.gen(function* () {
        const org = yield* createOrg()
        const store = yield* UsageStore
        const first = usageRecord(org.id, { costMicroUsd: 10 })
        const again = usageRecord(org.id, { requestId: first.requestId, costMicroUsd: 999, model: "other" })
        expect(yield* store.record([first, again])).toEqual({ inserted: 1, duplicates: 1 })
        expect(yield* store.record([again])).toEqual({ inserted: 0, duplicates: 1 })
        expect(yield* store.totals(org.id, { ...MARCH, groupBy: "model" })).toEqual([
          expect.objectContaining({ key: "gpt-test", requests: 1, costMicroUsd: 10 })
        ])
      })
    )

    it.effect("another org never sees your records; the same request id in two orgs is two records", () =>
      Effect.gen(function* () {
        const orgA = yield* createOrg()
        const orgB = yield* createOrg()
        const store = yield* UsageStore
        const mine = usageRecord(orgA.id, { costMicroUsd: 500 })
        expect(yield* store.record([mine])).toEqual({ inserted: 1, duplicates: 0 })
        for (const groupBy of ["model", "agent", "day", "provider"] as const)
          expect(yield* store.totals(orgB.id, { ...MARCH, groupBy })).toEqual([])
        expect(yield* store.monthSpend(orgB.id, MARCH.since)).toBe(0)
        // B's record with A's request id is B's own, not a duplicate of A's.
        const theirs = usageRecord(orgB.id, { requestId: mine.requestId, costMicroUsd: 3 })
        expect(yield* store.record([theirs])).toEqual({ inserted: 1, duplicates: 0 })
        expect(yield* store.monthSpend(orgA.id, MARCH.since)).toBe(500)
        expect(yield* store.monthSpend(orgB.id, MARCH.since)).toBe(3)
      })
    )

    it.effect("a batch mixing orgs stores each record under its own org", () =>
      Effect.gen(function* () {
        const orgA = yield* createOrg()
        const orgB = yield* createOrg()
        const store = yield* UsageStore
        const batch = [
          usageRecord(orgA.id, { costMicroUsd: 1 }),
          usageRecord(orgB.id, { costMicroUsd: 20 }),
          usageRecord(orgA.id, { costMicroUsd: 300 }),
          usageRecord(orgB.id, { costMicroUsd: 4000 })
        ]
        expect(yield* store.record(batch)).toEqual({ inserted: 4, duplicates: 0 })
        expect(yield* store.monthSpend(orgA.id, MARCH.since)).toBe(301)
        expect(yield* store.monthSpend(orgB.id, MARCH.since)).toBe(4020)
      })
    )

    it.effect("a batch with a record of a missing org fails and stores none of its records", () =>
      Effect.gen(function* () {
        const org = yield* createOrg()
        const store = yield* UsageStore
        const batch = [usageRecord(org.id), usageRecord(org.id), usageRecord(MISSING_ORG)]
        const failed = yield* Effect.flip(store.record(batch))
        expect(failed._tag).toBe("StoreUnavailable")
        expect(yield* requestsOf(org.id)).toBe(0)
        // The same records without the bad one go in: nothing was half-stored.
        expect(yield* store.record(batch.slice(0, 2))).toEqual({ inserted: 2, duplicates: 0 })
      })
    )

    it.effect("the time range includes `since` and excludes `until`", () =>
      Effect.gen(function* () {
        const org = yield* createOrg()
        const store = yield* UsageStore
        const since = new Date("2025-03-10T00:00:00.000Z")
        const until = new Date("2025-03-11T00:00:00.000Z")
        const at = (ms: number, cost: number) => usageRecord(org.id, { createdAt: new Date(ms), costMicroUsd: cost })
        yield* store.record([
          at(since.getTime() - 1, 1),
          at(since.getTime(), 10),
          at(until.getTime() - 1, 100),
          at(until.getTime(), 1000)
        ])
        const rows = yield* store.totals(org.id, { since, until, groupBy: "day" })
        expect(rows).toEqual([expect.objectContaining({ key: "2025-03-10", requests: 2, costMicroUsd: 110 })])
        expect(yield* store.totals(org.id, { since: until, until: since, groupBy: "day" })).toEqual([])
      })
    )

    it.effect("monthSpend sums one UTC calendar month of the org's records", () =>
      Effect.gen(function* () {
        const org = yield* createOrg()
        const other = yield* createOrg()
        const store = yield* UsageStore
        const at = (iso: string, cost: number, orgId: OrgId = org.id) =>
          usageRecord(orgId, { createdAt: new Date(iso), costMicroUsd: cost })
        yield* store.record([
          at("2025-01-31T23:59:59.999Z", 1),
          at("2025-02-01T00:00:00.000Z", 10),
          at("2025-02-28T23:59:59.999Z", 100),
          at("2025-03-01T00:00:00.000Z", 1000),
          at("2025-02-14T12:00:00.000Z", 50_000, other.id)
        ])
        expect(yield* store.monthSpend(org.id, new Date("2025-02-01T00:00:00.000Z"))).toBe(110)
        expect(yield* store.monthSpend(org.id, new Date("2025-03-01T00:00:00.000Z"))).toBe(1000)
        expect(yield* store.monthSpend(org.id, new Date("2025-04-01T00:00:00.000Z"))).toBe(0)
        expect(yield* store.monthSpend(other.id, new Date("2025-02-01T00:00:00.000Z"))).toBe(50_000)
      })
    )

    it.effect("limits: none at first, set, cleared, kept apart per org; an unknown org is None", () =>
      Effect.gen(function* () {
        const org = yield* createOrg()
        const other = yield* createOrg()
        const limits = yield* OrgLimitsStore
        const none = { tokensPerMinute: null, monthlyBudgetMicroUsd: null }
        expect(Option.getOrThrow(yield* limits.get(org.id))).toMatchObject(none)
        const set = new OrgLimits({ tokensPerMinute: 90_000, monthlyBudgetMicroUsd: 9_007_199_254_740_991 })
        expect(Option.getOrThrow(yield* limits.set(org.id, set))).toEqual(set)
        expect(Option.getOrThrow(yield* limits.get(org.id))).toEqual(set)
        expect(Option.getOrThrow(yield* limits.get(other.id))).toMatchObject(none)
        // A budget of 0 is a limit (nothing may be spent), not "no limit".
        const zero = new OrgLimits({ tokensPerMinute: null, monthlyBudgetMicroUsd: 0 })
        expect(Option.getOrThrow(yield* limits.set(org.id, zero))).toEqual(zero)
        expect(Option.getOrThrow(yield* limits.get(org.id))).toEqual(zero)
        expect(Option.isNone(yield* limits.get(randomId<OrgId>()))).toBe(true)
        expect(Option.isNone(yield* limits.set(randomId<OrgId>(), set))).toBe(true)
        expect(Option.getOrThrow(yield* limits.get(other.id))).toMatchObject(none)
      })
    )

    it.effect("the org's limits travel with its tokens' credentials (what a validated principal carries)", () =>
      Effect.gen(function* () {
        const org = yield* createOrg()
        const token = yield* bootstrapAdminToken(org.id)
        const tokens = yield* TokenStore
        const limits = yield* OrgLimitsStore
        expect(Option.getOrThrow(yield* tokens.findCredential(token.info.id))).toMatchObject({
          orgTokensPerMinute: null,
          orgMonthlyBudgetMicroUsd: null
        })
        yield* limits.set(org.id, new OrgLimits({ tokensPerMinute: 500, monthlyBudgetMicroUsd: 2_500_000 }))
        expect(Option.getOrThrow(yield* tokens.findCredential(token.info.id))).toMatchObject({
          orgTokensPerMinute: 500,
          orgMonthlyBudgetMicroUsd: 2_500_000
        })
      })
    )

    it.scoped("a change of limits reaches a feed subscriber as an org change", () =>
      Effect.gen(function* () {
        const org = yield* createOrg()
        const feed = yield* RevocationFeed
        const limits = yield* OrgLimitsStore
        const seen = yield* feed.subscribe.pipe(
          Stream.filter(
            (e: RevocationEvent) => e._tag === "Connected" || (e._tag === "OrgChanged" && e.orgId === org.id)
          ),
          Stream.take(2),
          Stream.runCollect,
          Effect.fork
        )
        yield* Effect.sleep("100 millis")
        yield* limits.set(org.id, new OrgLimits({ tokensPerMinute: 1_000, monthlyBudgetMicroUsd: null }))
        const events = [...(yield* Fiber.join(seen).pipe(Effect.timeout("5 seconds")))]
        expect(events.map((e) => e._tag)).toEqual(["Connected", "OrgChanged"])
      })
    )
  })
