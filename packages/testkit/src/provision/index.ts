export * from "./provisionDatabase.js"
export { withClient } from "./pg.js"
