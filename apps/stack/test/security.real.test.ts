import { describeRealInfra } from "@ibex/testkit/infra"
import { securityMatrix } from "@ibex/testkit/security"
import { DEFAULT_RATE_LIMIT, realEnvironment, realInfrastructure } from "./securityEnvironments.js"

// Skips with a message on a laptop without services; fails instead under IBEX_REQUIRE_REAL_INFRA=1 (CI).
const onRealStack = describeRealInfra(realInfrastructure.available, realInfrastructure.skipReason)

onRealStack("Phase 1 security gate [Postgres + Redis + gRPC + HTTP]", () => {
  securityMatrix(realEnvironment, { defaultRateLimitPerMinute: DEFAULT_RATE_LIMIT })
})
