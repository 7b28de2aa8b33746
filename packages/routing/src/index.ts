export { RoutingEnv } from "./env.js"
export { RoutingLoadFailed, RoutingWriteFailed } from "./errors.js"
export { RoutingFileLive, type RoutingFileOptions } from "./RoutingFileLive.js"
