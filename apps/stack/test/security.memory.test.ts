import { securityMatrix } from "@ibex/testkit/security"
import { describe } from "vitest"
import { DEFAULT_RATE_LIMIT, memoryEnvironment } from "./securityEnvironments.js"

describe("Phase 1 security gate [memory adapters, real sockets]", () => {
  securityMatrix(memoryEnvironment, { defaultRateLimitPerMinute: DEFAULT_RATE_LIMIT })
})
