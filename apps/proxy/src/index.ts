export * from "./config.js"
export * from "./ProxyServiceLive.js"
