export * from "@ibex/mock-upstream"
export * from "./noForwarding.js"
