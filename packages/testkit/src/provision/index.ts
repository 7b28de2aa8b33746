export * from "./provisionDatabase.js"
