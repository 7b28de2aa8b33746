import { makeUsageLimiterMemory, newUsageLimiterMemoryBackend } from "@ibex/domain"
import { Effect } from "effect"
import { usageLimiterContract } from "../src/contracts/index.js"

usageLimiterContract("memory", (ledger) =>
  Effect.sync(() => {
    const backend = newUsageLimiterMemoryBackend()
    return {
      a: makeUsageLimiterMemory(ledger, backend),
      b: makeUsageLimiterMemory(ledger, backend),
      lose: Effect.sync(() => {
        backend.spend.clear()
        backend.tats.clear()
      })
    }
  })
)
