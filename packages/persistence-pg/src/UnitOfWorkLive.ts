import { UnitOfWork } from "@ibex/domain"
import { Effect, Layer } from "effect"
import { storeOperation } from "./errors.js"
import { PlatformPool, transaction } from "./PgClientLive.js"

/**
 * UnitOfWork on Postgres: one transaction on the platform pool (ibex_platform), for the platform
 * operations that must be all or nothing (onboarding: the org, its first token, its first agent).
 * Store operations inside it join it, connection and role included (their own transactions become
 * savepoints), so the whole unit commits or rolls back. Hub notices a store publishes "after
 * commit" are published at the end of its own step, inside the unit; today only onboarding
 * (inserts, which publish nothing) runs in one.
 */
export const UnitOfWorkLive = Layer.effect(
  UnitOfWork,
  Effect.map(PlatformPool, (platform) =>
    UnitOfWork.of({
      atomically: (effect) =>
        Effect.flatMap(platform.database, ({ provide }) =>
          provide(
            transaction(effect).pipe(
              Effect.catchTag("SqlError", (e) => storeOperation("UnitOfWork.commit")(Effect.fail(e)))
            )
          )
        )
    })
  )
)
