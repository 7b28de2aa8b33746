export * from "./AdminHttp.js"
export * from "./AuthServiceLive.js"
export * from "./config.js"
export * from "./prometheus.js"
