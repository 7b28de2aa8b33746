export { escapeIdentifier, withClient } from "./pg.js"
export * from "./provisionDatabase.js"
