import { credentials, status } from "@grpc/grpc-js"
import { issuePlatformAdmin, issueToken, MAX_USAGE_BATCH } from "@ibex/auth-core"
import { type OrgId, Permissions, type UsageRecord } from "@ibex/domain"
import { createOrg, setupOrg } from "@ibex/testkit"
import { usageRecord } from "@ibex/testkit/contracts"
import { Effect, Either, type Layer, ManagedRuntime, Option, Redacted } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { UsageServiceClient } from "../src/gen/ibex/auth/v1/usage.js"
import {
  AuthClient,
  AuthGrpcServer,
  REASON_TRAILER,
  trailer,
  UsageClient,
  UsageClientLive,
  type UsageProto,
  usageRecordToWire
} from "../src/index.js"
import { bearer, capturedLogs, listServicesByReflection, memoryStack, rawCall } from "./harness.js"

/**
 * ibex.auth.v1.UsageService over the in-memory adapters: RecordUsage validates a whole batch and
 * stores it once however often it is sent; the reads and the limits need the RPC's permission in
 * the caller's own org, or a platform-admin credential naming the org; a change of limits reaches
 * the principal Authorize hands the proxy at once.
 */

const stack = memoryStack()
let runtime: ManagedRuntime.ManagedRuntime<Layer.Layer.Success<typeof stack>, unknown>
let address: string
let raw: UsageServiceClient
let adminCredential: Redacted.Redacted<string>

const usage = <A, E>(body: (c: UsageClient["Type"]) => Effect.Effect<A, E>) =>
  Effect.runPromise(
    Effect.flatMap(UsageClient, body).pipe(
      Effect.either,
      Effect.provide(UsageClientLive({ target: address })),
      Effect.scoped
    )
  )

const run = <A, E>(effect: Effect.Effect<A, E, Layer.Layer.Success<typeof stack>>) => runtime.runPromise(effect)

/** A PAT of `orgId` holding exactly these permissions. */
const patWith = (orgId: OrgId, ...names: ReadonlyArray<Permissions.PermissionName>) =>
  run(
    issueToken({
      orgId,
      name: names.join("+") || "none",
      permissions: Permissions.of(...names),
      expiresAt: null,
      createdBy: null
    })
  ).then((c) => c.token)

/** Records dated now (the current month), so limits' month spend counts them. */
const recent = (orgId: OrgId, fields: Parameters<typeof usageRecord>[1] = {}): UsageRecord =>
  usageRecord(orgId, { createdAt: new Date(), ...fields })

const record = (records: ReadonlyArray<UsageProto.UsageRecordMessage>) =>
  rawCall(raw.recordUsage.bind(raw), { records: [...records] })

beforeAll(async () => {
  runtime = ManagedRuntime.make(stack)
  address = (await runtime.runPromise(AuthGrpcServer)).address
  raw = new UsageServiceClient(address, credentials.createInsecure())
  adminCredential = (await run(issuePlatformAdmin({ kind: "database_owner", name: "test" }, "ops"))).credential
}, 60_000)

afterAll(async () => {
  raw?.close()
  await runtime?.dispose()
})

describe("UsageService: RecordUsage", () => {
  it("is listed by reflection and reports SERVING on grpc.health.v1", async () => {
    expect(await listServicesByReflection(address)).toContain("ibex.auth.v1.UsageService")
    expect(await run(Effect.flatMap(AuthClient, (c) => c.checkHealth("ibex.auth.v1.UsageService")))).toBe("SERVING")
  })

  it("stores a batch once: sent again, or by 10 callers at once, every record is a duplicate", async () => {
    const org = await run(createOrg())
    const batch = Array.from({ length: 5 }, (_, i) => recent(org.id, { costMicroUsd: 10 ** i }))
    const first = await usage((c) => c.record(batch))
    expect(first).toMatchObject({ _tag: "Right", right: { inserted: 5, duplicates: 0 } })
    const again = await usage((c) => c.record(batch))
    expect(again).toMatchObject({ _tag: "Right", right: { inserted: 0, duplicates: 5 } })
    const fresh = Array.from({ length: 3 }, () => recent(org.id, { costMicroUsd: 100_000 }))
    const concurrent = await Promise.all(
      Array.from({ length: 10 }, () => rawCall(raw.recordUsage.bind(raw), { records: fresh.map(usageRecordToWire) }))
    )
    for (const c of concurrent) expect(c.error).toBeNull()
    expect(concurrent.reduce((n, c) => n + (c.response?.inserted ?? 0), 0)).toBe(3)
    expect(concurrent.reduce((n, c) => n + (c.response?.duplicates ?? 0), 0)).toBe(27)
    const admin = await usage((c) => c.query(adminCredential, { org: org.id, groupBy: "model" }))
    if (admin._tag === "Left") throw new Error(admin.left._tag)
    expect(admin.right.rows).toEqual([
      expect.objectContaining({ key: "gpt-test", requests: 8, costMicroUsd: 11_111 + 300_000 })
    ])
  })

  it("refuses the whole batch with INVALID_ARGUMENT when one record is malformed, and stores none of it", async () => {
    const org = await run(createOrg())
    const good = () => usageRecordToWire(recent(org.id))
    const bad: ReadonlyArray<[string, Partial<UsageProto.UsageRecordMessage>]> = [
      ["org id not a UUID", { orgId: "not-a-uuid" }],
      ["upper-case agent id", { agentId: "AAAAAAAA-AAAA-4AAA-8AAA-AAAAAAAAAAAA" }],
      ["empty request id", { requestId: "" }],
      ["request id too long", { requestId: "r".repeat(129) }],
      ["control character in request id", { requestId: "abc\ndef" }],
      ["model too long", { model: "m".repeat(257) }],
      ["status out of range", { status: 700 }],
      ["tokens over 2^31 - 1", { promptTokens: 2 ** 31 }],
      ["cost over 2^53 - 1", { costMicroUsd: 2n ** 53n }],
      ["no created_at", { createdAt: undefined }]
    ]
    for (const [what, change] of bad) {
      const answer = await record([good(), { ...good(), ...change }, good()])
      expect(answer.error?.code, what).toBe(status.INVALID_ARGUMENT)
      expect(trailer(answer.error ?? undefined, REASON_TRAILER), what).toBe("VALIDATION_FAILED")
    }
    const unknownOrg = await record([good(), usageRecordToWire(recent(crypto.randomUUID() as OrgId))])
    expect(unknownOrg.error?.code).toBe(status.INVALID_ARGUMENT)
    const tooMany = await record(Array.from({ length: MAX_USAGE_BATCH + 1 }, good))
    expect(tooMany.error?.code).toBe(status.INVALID_ARGUMENT)
    // Nothing of any refused batch was stored; a full batch of the maximum size is fine.
    const report = await usage((c) => c.query(adminCredential, { org: org.id, groupBy: "model" }))
    expect(report._tag === "Right" ? report.right.rows : "failed").toEqual([])
    const full = await record(Array.from({ length: MAX_USAGE_BATCH }, good))
    expect(full.error).toBeNull()
    expect(full.response).toEqual({ inserted: MAX_USAGE_BATCH, duplicates: 0 })
    // The client reads a refusal as final (ValidationFailed), not as "try again".
    const viaClient = await usage((c) => c.record([{ ...recent(org.id), status: 42 } as UsageRecord]))
    expect(viaClient._tag === "Left" ? viaClient.left._tag : "stored").toBe("ValidationFailed")
  })
})

describe("UsageService: GetMonthSpend", () => {
  it("sums an org's records of one UTC month, nothing of another org's or month's; bad input is INVALID_ARGUMENT", async () => {
    const org = await run(createOrg())
    const other = await run(createOrg())
    const now = new Date()
    const month = now.toISOString().slice(0, 7)
    const lastMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1) - 1)
    await usage((c) =>
      c.record([
        recent(org.id, { costMicroUsd: 1_000 }),
        recent(org.id, { costMicroUsd: 234 }),
        usageRecord(org.id, { createdAt: lastMonth, costMicroUsd: 50_000 }),
        recent(other.id, { costMicroUsd: 7 })
      ])
    )
    expect(await usage((c) => c.monthSpend(org.id, month))).toEqual(Either.right(1_234))
    expect(await usage((c) => c.monthSpend(org.id, lastMonth.toISOString().slice(0, 7)))).toEqual(Either.right(50_000))
    expect(await usage((c) => c.monthSpend(other.id, month))).toEqual(Either.right(7))
    expect(await usage((c) => c.monthSpend(crypto.randomUUID(), month))).toEqual(Either.right(0))
    for (const [orgId, m] of [
      ["not-a-uuid", month],
      [org.id, "2026-13"],
      [org.id, "2026-1"],
      [org.id, ""]
    ] as const) {
      const answer = await rawCall(raw.getMonthSpend.bind(raw), { orgId, month: m })
      expect(answer.error?.code).toBe(status.INVALID_ARGUMENT)
    }
  })
})

describe("UsageService: QueryUsage", () => {
  it("a PAT needs usage:read and reads its own org only; a platform admin names any org", async () => {
    const a = await run(setupOrg())
    const b = await run(setupOrg())
    const [agent1, agent2] = [a.agentId, a.agents.paused]
    await usage((c) =>
      c.record([
        recent(a.orgId, { agentId: agent1, promptTokens: 3, completionTokens: 4, costMicroUsd: 70, estimated: true }),
        recent(a.orgId, { agentId: agent2, promptTokens: 5, completionTokens: 6, cachedTokens: 1, costMicroUsd: 900 }),
        recent(b.orgId, { costMicroUsd: 123_456 })
      ])
    )
    const reader = await patWith(a.orgId, "usage:read")
    const noBit = await patWith(a.orgId, "probe:read", "budget:manage")

    const own = await usage((c) => c.query(reader, { groupBy: "agent" }))
    if (own._tag === "Left") throw new Error(own.left._tag)
    expect(own.right.orgId).toBe(a.orgId)
    expect(own.right.rows).toEqual(
      [
        {
          key: agent1,
          requests: 1,
          promptTokens: 3,
          completionTokens: 4,
          cachedTokens: 0,
          costMicroUsd: 70,
          estimatedRequests: 1
        },
        {
          key: agent2,
          requests: 1,
          promptTokens: 5,
          completionTokens: 6,
          cachedTokens: 1,
          costMicroUsd: 900,
          estimatedRequests: 0
        }
      ].sort((x, y) => (x.key < y.key ? -1 : 1))
    )
    // Naming its own org is the same; naming another org is refused, never answered.
    const named = await usage((c) => c.query(reader, { org: a.orgId.toUpperCase(), groupBy: "model" }))
    expect(named._tag === "Right" ? named.right.rows[0]?.costMicroUsd : named.left._tag).toBe(970)
    const cross = await usage((c) => c.query(reader, { org: b.orgId, groupBy: "model" }))
    expect(cross._tag === "Left" ? cross.left._tag : "answered").toBe("OrgAccessDenied")
    const crossByName = await usage((c) => c.query(reader, { org: b.org.name, groupBy: "model" }))
    expect(crossByName._tag === "Left" ? crossByName.left._tag : "answered").toBe("OrgAccessDenied")
    const refused = await rawCall(raw.queryUsage.bind(raw), { org: "", groupBy: 1 }, bearer(noBit))
    expect(refused.error?.code).toBe(status.PERMISSION_DENIED)
    expect(trailer(refused.error ?? undefined, REASON_TRAILER)).toBe("INSUFFICIENT_PERMISSIONS")
    const anonymous = await rawCall(raw.queryUsage.bind(raw), { org: a.orgId, groupBy: 1 })
    expect(anonymous.error?.code).toBe(status.UNAUTHENTICATED)
    const wrongAdmin = await rawCall(
      raw.queryUsage.bind(raw),
      { org: a.orgId, groupBy: 1 },
      bearer(`${Redacted.value(adminCredential).slice(0, -43)}${"A".repeat(43)}`)
    )
    expect(wrongAdmin.error?.code).toBe(status.UNAUTHENTICATED)

    // A platform admin: any org by id or name, by day; an org is required, and must exist.
    const byDay = await usage((c) => c.query(adminCredential, { org: b.org.name, groupBy: "day" }))
    if (byDay._tag === "Left") throw new Error(byDay.left._tag)
    expect(byDay.right.rows).toEqual([
      expect.objectContaining({ key: new Date().toISOString().slice(0, 10), requests: 1, costMicroUsd: 123_456 })
    ])
    const noOrg = await usage((c) => c.query(adminCredential, { groupBy: "model" }))
    expect(noOrg._tag === "Left" ? noOrg.left._tag : "answered").toBe("ValidationFailed")
    const unknown = await usage((c) => c.query(adminCredential, { org: "no-such-org", groupBy: "model" }))
    expect(unknown._tag === "Left" ? unknown.left._tag : "answered").toBe("ResourceNotFound")
    // A range that ends before it starts is invalid; one without records is empty.
    const backwards = await usage((c) =>
      c.query(reader, { groupBy: "model", since: new Date(), until: new Date(Date.now() - 1_000) })
    )
    expect(backwards._tag === "Left" ? backwards.left._tag : "answered").toBe("ValidationFailed")
    const past = await usage((c) =>
      c.query(reader, { groupBy: "model", since: new Date("2020-01-01"), until: new Date("2020-02-01") })
    )
    expect(past._tag === "Right" ? past.right.rows : past.left._tag).toEqual([])
    // The admin's reads are audited with the credential.
    expect(
      capturedLogs.some((l) => l.includes('"QueryUsage"') && l.includes(b.orgId) && l.includes("platform_admin:"))
    ).toBe(true)
  })
})

describe("UsageService: GetOrgLimits / SetOrgLimits", () => {
  it("budget:manage sets its own org's limits; the principal Authorize hands out carries them at once", async () => {
    const org = await run(setupOrg())
    const other = await run(setupOrg())
    const manager = await patWith(org.orgId, "budget:manage")
    const reader = await patWith(org.orgId, "usage:read")
    const authorize = () =>
      run(Effect.flatMap(AuthClient, (c) => c.authorize(org.token, Option.none()))).then((a) => a.principal)
    // Warm the validator's cache first: the change must evict it, not merely miss it.
    expect(await authorize()).toMatchObject({ tokensPerMinute: null, monthlyBudgetMicroUsd: null })

    const initial = await usage((c) => c.getLimits(manager))
    if (initial._tag === "Left") throw new Error(initial.left._tag)
    expect(initial.right.limits).toMatchObject({ tokensPerMinute: null, monthlyBudgetMicroUsd: null })
    expect(initial.right.monthStart.toISOString()).toMatch(/^\d{4}-\d{2}-01T00:00:00\.000Z$/)

    await usage((c) => c.record([recent(org.orgId, { costMicroUsd: 2_500 }), recent(org.orgId, { costMicroUsd: 500 })]))
    const set = await usage((c) => c.setLimits(manager, { tokensPerMinute: 40_000, monthlyBudgetMicroUsd: 50_000_000 }))
    if (set._tag === "Left") throw new Error(set.left._tag)
    expect(set.right).toMatchObject({
      orgId: org.orgId,
      limits: { tokensPerMinute: 40_000, monthlyBudgetMicroUsd: 50_000_000 },
      monthSpendMicroUsd: 3_000
    })
    expect(await authorize()).toMatchObject({ tokensPerMinute: 40_000, monthlyBudgetMicroUsd: 50_000_000 })
    const got = await usage((c) => c.getLimits(manager, org.orgId))
    expect(got._tag === "Right" ? got.right.limits : got.left._tag).toMatchObject({
      tokensPerMinute: 40_000,
      monthlyBudgetMicroUsd: 50_000_000
    })
    // Clearing one limit, keeping the other; a zero budget is a limit.
    const cleared = await usage((c) => c.setLimits(manager, { tokensPerMinute: null, monthlyBudgetMicroUsd: 0 }))
    expect(cleared._tag === "Right" ? cleared.right.limits : cleared.left._tag).toMatchObject({
      tokensPerMinute: null,
      monthlyBudgetMicroUsd: 0
    })
    expect(await authorize()).toMatchObject({ tokensPerMinute: null, monthlyBudgetMicroUsd: 0 })

    // Refusals: without the bit, across orgs, out of range; the other org is untouched.
    const noBit = await usage((c) => c.setLimits(reader, { tokensPerMinute: 1, monthlyBudgetMicroUsd: null }))
    expect(noBit._tag === "Left" ? noBit.left._tag : "set").toBe("InsufficientPermissions")
    const readNoBit = await usage((c) => c.getLimits(reader))
    expect(readNoBit._tag === "Left" ? readNoBit.left._tag : "read").toBe("InsufficientPermissions")
    const cross = await usage((c) =>
      c.setLimits(manager, { tokensPerMinute: 1, monthlyBudgetMicroUsd: 1 }, other.orgId)
    )
    expect(cross._tag === "Left" ? cross.left._tag : "set").toBe("OrgAccessDenied")
    for (const bad of [{ tokensPerMinute: 0 }, { monthlyBudgetMicroUsd: 2n ** 53n }, { tokensPerMinute: 2 ** 31 }]) {
      const answer = await rawCall(raw.setOrgLimits.bind(raw), { org: "", ...bad }, bearer(manager))
      expect(
        answer.error?.code,
        JSON.stringify(bad, (_k, v) => (typeof v === "bigint" ? String(v) : v))
      ).toBe(status.INVALID_ARGUMENT)
    }
    const otherLimits = await usage((c) => c.getLimits(adminCredential, other.org.name))
    expect(otherLimits._tag === "Right" ? otherLimits.right.limits : otherLimits.left._tag).toMatchObject({
      tokensPerMinute: null,
      monthlyBudgetMicroUsd: null
    })
    // A platform admin sets any org's limits by name; a tenant's change is audited with its token.
    const byAdmin = await usage((c) =>
      c.setLimits(adminCredential, { tokensPerMinute: 7, monthlyBudgetMicroUsd: null }, other.org.name)
    )
    expect(byAdmin._tag === "Right" ? byAdmin.right.limits.tokensPerMinute : byAdmin.left._tag).toBe(7)
    expect(capturedLogs.some((l) => l.includes('"org_limits_set"') && l.includes(org.orgId))).toBe(true)
    for (const line of capturedLogs) {
      expect(line).not.toContain(Redacted.value(manager))
      expect(line).not.toContain(Redacted.value(adminCredential))
    }
  })
})
