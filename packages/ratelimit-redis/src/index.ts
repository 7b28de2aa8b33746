export * from "./CircuitBreaker.js"
export * from "./gcraScript.js"
export * from "./RateLimiterRedis.js"
