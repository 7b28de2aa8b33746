export * from "./azure.js"
export * from "./http/UpstreamHttp.js"
export * from "./openai.js"
export * from "./ProviderGatewayLive.js"
