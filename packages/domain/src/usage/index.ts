export * from "./UsageRecord.js"
export * from "./UsageShipper.js"
