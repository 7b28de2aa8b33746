export * from "./AuthServiceLive.js"
export * from "./config.js"
export * from "./logging.js"
