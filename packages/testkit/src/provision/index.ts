export * from "./provisionDatabase.js"
export { escapeIdentifier, withClient } from "./pg.js"
