export * from "./http.js"
export * from "./SecurityEnvironment.js"
export * from "./SecurityMatrix.js"
