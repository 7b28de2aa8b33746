export * from "./CircuitBreaker.js"
export * from "./gcraScript.js"
export * from "./LeaseBook.js"
export * from "./RateLimiterRedis.js"
