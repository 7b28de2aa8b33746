import { securityMatrix } from "@ibex/testkit/security"
import { describe } from "vitest"
import { DEFAULT_RATE_LIMIT, realEnvironment, realInfrastructure } from "./securityEnvironments.js"

if (!realInfrastructure.available) console.warn(realInfrastructure.skipReason)

describe.skipIf(!realInfrastructure.available)("Phase 1 security gate [Postgres + Redis + gRPC + HTTP]", () => {
  securityMatrix(realEnvironment, { defaultRateLimitPerMinute: DEFAULT_RATE_LIMIT })
})
