export * from "./config.js"
export * from "./ProxyServiceLive.js"
export * from "./telemetry.js"
