import { RateLimiterMemory, RateLimiterMemoryControl } from "@ibex/domain"
import { Effect, Layer } from "effect"
import { RateLimiterControl, rateLimiterContract } from "../src/contracts/index.js"

const control = Layer.effect(
  RateLimiterControl,
  Effect.map(RateLimiterMemoryControl, (memory) =>
    RateLimiterControl.of({
      stop: memory.setAvailable(false),
      start: memory.setAvailable(true),
      newInstance: memory.newInstance
    })
  )
)

rateLimiterContract("memory", control.pipe(Layer.provideMerge(RateLimiterMemory)))
