export * from "./UsageRecord.js"
