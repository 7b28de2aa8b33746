import { StoreUnavailable } from "@ibex/domain"
import { Cause, Effect } from "effect"

/**
 * The one place a database failure becomes a domain error. Whatever went wrong (an SqlError,
 * a dropped connection, a row that did not decode), the caller sees `StoreUnavailable` with
 * the operation's name and nothing else: no SQL text, no driver message, no parameter. The
 * SQLSTATE, when there is one, goes on the span for whoever operates the database.
 * Interruption stays interruption.
 */
export const storeOperation =
  (operation: string) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, StoreUnavailable, R> =>
    effect.pipe(
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.failCause(cause as Cause.Cause<never>)
          : Effect.zipRight(
              Effect.annotateCurrentSpan({ "db.failed": true, "db.sqlstate": sqlState(cause) ?? "none" }),
              Effect.fail(new StoreUnavailable({ operation }))
            )
      ),
      Effect.withSpan(operation, { kind: "client", attributes: { "db.system.name": "postgresql" } })
    )

/** The SQLSTATE of the first failure in `cause`, if the driver gave one (e.g. "23505"). */
const sqlState = (cause: Cause.Cause<unknown>): string | undefined => {
  for (const failure of [...Cause.failures(cause), ...Cause.defects(cause)]) {
    let current: unknown = failure
    for (let depth = 0; depth < 4 && typeof current === "object" && current !== null; depth++) {
      const code = (current as { code?: unknown }).code
      if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code
      current = (current as { cause?: unknown }).cause
    }
  }
  return undefined
}
