export * from "./calendar.js"
export * from "./UsageRecord.js"
export * from "./UsageShipper.js"
