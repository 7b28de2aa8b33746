// Contract suites register vitest tests; they live behind their own entry point so that
// importing @ibex/testkit's adapters (e.g. the in-memory rate limiter the embedded stack uses)
// never pulls the test runner into a running process.

export * from "./AuthContracts.js"
export * from "./IamContracts.js"
export * from "./RateLimiterContract.js"
export * from "./RoutingSourceContract.js"
export * from "./StoreContracts.js"
export * from "./UsageLimiterContract.js"
export * from "./UsageStoreContract.js"
