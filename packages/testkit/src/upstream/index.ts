export * from "@ibex/mock-upstream"
