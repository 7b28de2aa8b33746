import { platformAdminStoreContract } from "@ibex/testkit/contracts"
import { Effect, Layer, Redacted } from "effect"
import { PgClientLive } from "../src/PgClientLive.js"
import { PlatformAdminStoreLive } from "../src/PlatformAdminStoreLive.js"
import { backends, provision } from "./provision.js"

// The PlatformAdminStore contract on the owner's connection (the app role has no grant on the
// table: rls.test.ts holds that), on DATABASE_URL's server (when set) and on PGlite.
for (const backend of backends)
  platformAdminStoreContract(
    `persistence-pg on ${backend}`,
    Layer.unwrapScoped(
      Effect.map(provision(backend), (db) =>
        PlatformAdminStoreLive.pipe(
          Layer.provide(PgClientLive({ url: Redacted.make(db.url), appRole: null, maxConnections: 2 }))
        )
      )
    )
  )
