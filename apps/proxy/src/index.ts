export * from "./config.js"
export * from "./defaultRoutes.js"
export * from "./ProxyServiceLive.js"
export * from "./routingSource.js"
