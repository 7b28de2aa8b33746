export * from "@ibex/mock-upstream"
export * from "./noForwarding.js"
export * from "./usageSink.js"
