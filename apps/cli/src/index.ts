export * from "./Cli.js"
export * from "./config.js"
export * from "./database.js"
export * from "./output.js"
