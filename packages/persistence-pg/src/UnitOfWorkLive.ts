import { UnitOfWork } from "@ibex/domain"
import { Effect, Layer } from "effect"
import { storeOperation } from "./errors.js"
import { captureDatabase } from "./PgClientLive.js"

/**
 * UnitOfWork on Postgres: one transaction on the stores' pool. Store operations inside it join
 * it (their own transactions become savepoints), so the whole unit commits or rolls back.
 * Hub notices a store publishes "after commit" are published at the end of its own step, inside
 * the unit; today only onboarding (inserts, which publish nothing) runs in one.
 */
export const UnitOfWorkLive = Layer.effect(
  UnitOfWork,
  Effect.map(captureDatabase, ({ sql, provide }) =>
    UnitOfWork.of({
      atomically: (effect) =>
        sql.withTransaction(effect).pipe(
          Effect.catchTag("SqlError", (e) => storeOperation("UnitOfWork.commit")(Effect.fail(e))),
          provide
        )
    })
  )
)
