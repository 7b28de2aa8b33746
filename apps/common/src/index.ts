export * from "./EnvVar.js"
export * from "./logging.js"
export * from "./startup.js"
export * from "./telemetry.js"
