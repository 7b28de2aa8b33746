import { defaultTokenValidatorOptions } from "@ibex/auth-core"
import { AuthGateway } from "@ibex/domain"
import { setupTwoOrgs } from "@ibex/testkit"
import { Effect, ManagedRuntime, Option, Redacted } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { memoryStack } from "./harness.js"

// A refusal floor (1 s) far beyond the client's budget (200 ms): the padding must give way to the
// deadline the call carries, or the caller sees its budget expire (503) instead of a refusal (401).
const runtime = ManagedRuntime.make(
  memoryStack({ validator: { ...defaultTokenValidatorOptions, refusalInitialFloorMs: 1_000 }, deadlineMs: 200 })
)
afterAll(() => runtime.dispose())

describe("padded refusals and the caller's gRPC deadline", () => {
  it("an unknown token id is refused (InvalidToken) inside the caller's budget, not timed out", async () => {
    const { orgA } = await runtime.runPromise(setupTwoOrgs())
    const raw = Redacted.value(orgA.token)
    const unknown = Redacted.make(`ibex_pat_00000000-0000-4000-8000-000000000000_${raw.slice(-43)}`)
    // The channel opens on the first call; open it first, so the budget below is only the call's.
    await runtime.runPromise(Effect.flatMap(AuthGateway, (g) => g.authorize(orgA.token, Option.none())))
    const error = await runtime.runPromise(
      Effect.flip(Effect.flatMap(AuthGateway, (g) => g.authorize(unknown, Option.none())))
    )
    expect(error._tag).toBe("InvalidToken")
  })
})
