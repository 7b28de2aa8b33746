import { makeUsageLimiterMemory, newUsageLimiterMemoryBackend } from "@ibex/domain"
import { Effect } from "effect"
import { usageLimiterContract } from "../src/contracts/index.js"

usageLimiterContract("memory", (ledger) =>
  Effect.gen(function* () {
    const backend = newUsageLimiterMemoryBackend()
    return {
      a: yield* makeUsageLimiterMemory(ledger, backend),
      b: yield* makeUsageLimiterMemory(ledger, backend),
      lose: Effect.sync(() => {
        backend.spend.clear()
        backend.tats.clear()
      })
    }
  })
)
