export * from "./EnvVar.js"
export * from "./logging.js"
export * from "./telemetry.js"
