import { storeContracts } from "@ibex/testkit/contracts"
import { backends, provisionedStores } from "./provision.js"

// The foundation's store contracts over the Postgres adapters: on DATABASE_URL's server (when
// set) and on PGlite, each suite on its own fresh database.
for (const backend of backends) storeContracts(`persistence-pg on ${backend}`, provisionedStores(backend))
