export * from "./Routing.js"
export * from "./RoutingTable.js"
export * from "./Upstream.js"
