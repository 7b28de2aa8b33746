export * from "./authorizeProxyRequest.js"
