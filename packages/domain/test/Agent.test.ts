import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { Agent, type AgentStatus, checkAgent } from "../src/Agent.js"
import type { AgentId, OrgId } from "../src/ids.js"

const orgA = "00000000-0000-4000-8000-00000000000a" as OrgId
const orgB = "00000000-0000-4000-8000-00000000000b" as OrgId
const agent = (orgId: OrgId, status: AgentStatus) =>
  new Agent({ id: "00000000-0000-4000-8000-000000000001" as AgentId, orgId, name: "a", status, createdAt: new Date(0) })

describe("agent verification rule", () => {
  it.effect("active agent in the token's org passes", () =>
    Effect.gen(function* () {
      const ok = yield* checkAgent(orgA, agent(orgA, "active"))
      expect(ok.status).toBe("active")
    })
  )
  it.effect("missing and other-org agents are the same AGENT_NOT_AUTHORIZED", () =>
    Effect.gen(function* () {
      const missing = yield* Effect.exit(checkAgent(orgA, undefined))
      const foreign = yield* Effect.exit(checkAgent(orgA, agent(orgB, "active")))
      expect(missing).toEqual(foreign)
      expect(Exit.isFailure(missing)).toBe(true)
    })
  )
  it.effect.each(["paused", "archived", "suspended"] as const)("%s agent is AGENT_SUSPENDED", (status) =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(checkAgent(orgA, agent(orgA, status)))
      expect(error._tag).toBe("AgentSuspended")
    })
  )
})
