import { makeUsageLimiterMemory, type UsageLimiterMemoryBackend } from "@ibex/domain"
import { Effect } from "effect"
import { usageLimiterContract } from "../src/contracts/index.js"

usageLimiterContract(
  "memory",
  Effect.sync(() => {
    const backend: UsageLimiterMemoryBackend = { available: true, tats: new Map(), spend: new Map() }
    return { a: makeUsageLimiterMemory(backend), b: makeUsageLimiterMemory(backend) }
  })
)
