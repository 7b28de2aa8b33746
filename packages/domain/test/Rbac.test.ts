import { describe, expect, it } from "vitest"
import { authorize, type OrgId, type OrgRole, orgRights, platformRights, type Right, RoleRights } from "../src/index.js"

const orgA = "00000000-0000-4000-8000-00000000000a" as OrgId
const orgB = "00000000-0000-4000-8000-00000000000b" as OrgId
const principal = (roles: Array<[OrgId, OrgRole]>, platformAdmin = false) => ({ platformAdmin, roles: new Map(roles) })

describe("authorize (the one RBAC decision)", () => {
  it("T5.2 each role allows exactly its rights in its org and nothing in another org", () => {
    for (const role of ["org_admin", "member", "viewer"] as const) {
      const p = principal([[orgA, role]])
      for (const right of orgRights) {
        const expected = RoleRights[role].includes(right)
        const decision = authorize(p, orgA, right)
        expect([role, right, decision.allow]).toEqual([role, right, expected])
        if (!decision.allow) expect(decision.reason).toBe("role_lacks_right")
        const elsewhere = authorize(p, orgB, right)
        expect(elsewhere).toEqual({ allow: false, reason: "not_a_member" })
      }
      for (const right of platformRights)
        expect(authorize(p, orgA, right)).toEqual({ allow: false, reason: "platform_only" })
    }
  })

  it("T5.2 viewers read, members also write agents and tokens, org admins also manage members, budgets and audit", () => {
    const can = (role: OrgRole, right: Right) => authorize(principal([[orgA, role]]), orgA, right).allow
    expect(can("viewer", "agents:read")).toBe(true)
    expect(can("viewer", "agents:write")).toBe(false)
    expect(can("member", "tokens:write")).toBe(true)
    expect(can("member", "users:invite")).toBe(false)
    expect(can("org_admin", "assignments:write")).toBe(true)
    expect(can("org_admin", "audit:read")).toBe(true)
    expect(can("org_admin", "orgs:create")).toBe(false)
  })

  it("a platform admin may do everything everywhere; nobody else acts without an org", () => {
    const admin = principal([], true)
    for (const right of [...orgRights, ...platformRights]) {
      expect(authorize(admin, orgB, right).allow).toBe(true)
      expect(authorize(admin, null, right).allow).toBe(true)
    }
    expect(authorize(principal([[orgA, "org_admin"]]), null, "agents:read")).toEqual({
      allow: false,
      reason: "platform_only"
    })
  })
})
