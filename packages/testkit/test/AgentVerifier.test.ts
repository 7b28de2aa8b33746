import { expect, layer } from "@effect/vitest"
import { AgentVerifier, AgentVerifierLive } from "@ibex/auth-core"
import { AgentStore, SecureRandomWebCrypto } from "@ibex/domain"
import { Effect, Layer } from "effect"
import { setupTwoOrgs } from "../src/fixtures/twoOrgs.js"
import { SecretHasherMemory } from "../src/memory/AuthMemory.js"
import { StoresMemory } from "../src/memory/StoresMemory.js"

/** AgentStore.find calls, counted, to show what the cache saves. */
const finds = { count: 0 }
const CountingAgentStore = Layer.effect(
  AgentStore,
  Effect.map(AgentStore, (inner) =>
    AgentStore.of({
      ...inner,
      find: (orgId, agentId) =>
        Effect.suspend(() => {
          finds.count++
          return inner.find(orgId, agentId)
        })
    })
  )
)

const services = AgentVerifierLive().pipe(
  Layer.provideMerge(CountingAgentStore),
  Layer.provideMerge(Layer.mergeAll(StoresMemory, SecretHasherMemory, SecureRandomWebCrypto))
)

layer(services, { excludeTestServices: true })("AgentVerifier (cache in front of the agent store)", (it) => {
  it.effect("a second verification of an active agent does not read the store", () =>
    Effect.gen(function* () {
      const { orgA } = yield* setupTwoOrgs()
      const verifier = yield* AgentVerifier
      const before = finds.count
      yield* verifier.verify(orgA.orgId, orgA.agentId)
      yield* verifier.verify(orgA.orgId, orgA.agentId)
      expect(finds.count - before).toBe(1)
    })
  )

  it.effect("a status change is pushed: the cached agent is refused at once", () =>
    Effect.gen(function* () {
      const { orgA } = yield* setupTwoOrgs()
      const verifier = yield* AgentVerifier
      const agents = yield* AgentStore
      yield* verifier.verify(orgA.orgId, orgA.agentId)
      yield* agents.setStatus(orgA.orgId, orgA.agentId, "paused")
      yield* Effect.sleep("20 millis")
      const error = yield* Effect.flip(verifier.verify(orgA.orgId, orgA.agentId))
      expect(error._tag).toBe("AgentSuspended")
      yield* agents.setStatus(orgA.orgId, orgA.agentId, "active")
      yield* Effect.sleep("20 millis")
      const back = yield* verifier.verify(orgA.orgId, orgA.agentId)
      expect(back.status).toBe("active")
    })
  )

  it.effect("another org's agent is refused from the cache exactly as from the store", () =>
    Effect.gen(function* () {
      const { orgA, orgB } = yield* setupTwoOrgs()
      const verifier = yield* AgentVerifier
      yield* verifier.verify(orgB.orgId, orgB.agentId)
      const error = yield* Effect.flip(verifier.verify(orgA.orgId, orgB.agentId))
      expect(error._tag).toBe("AgentNotAuthorized")
    })
  )
})
