import { Context, type Effect } from "effect"
import type { StoreUnavailable } from "../errors.js"

/**
 * Runs several store operations as one unit: all of them or none (a database transaction; store
 * calls inside it join it). Optional: use cases that want atomicity read it with
 * `Effect.serviceOption` and run step by step where no adapter provides it.
 */
export interface UnitOfWorkShape {
  readonly atomically: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | StoreUnavailable, R>
}

export class UnitOfWork extends Context.Tag("@ibex/domain/UnitOfWork")<UnitOfWork, UnitOfWorkShape>() {}
