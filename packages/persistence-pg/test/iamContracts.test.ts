import { iamStoreContracts } from "@ibex/testkit/contracts"
import { backends, provisionedStores } from "./provision.js"

// Issue 15's store contracts over the Postgres adapters: DATABASE_URL's server (when set) and PGlite.
for (const backend of backends) iamStoreContracts(`persistence-pg on ${backend}`, provisionedStores(backend))
