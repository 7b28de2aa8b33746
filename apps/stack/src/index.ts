export * from "./banner.js"
export * from "./config.js"
export * from "./Stack.js"
export * from "./smoke.js"
