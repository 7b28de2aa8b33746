import {
  decodeRoutingConfig,
  type FieldError,
  makeRoutingState,
  type RoutingState,
  type RoutingStatus,
  type RoutingTable
} from "@ibex/domain"
import { Effect, Either, Option } from "effect"
import { RoutingLoadFailed } from "./errors.js"

/** What one read of a source produced: a parsed value to decode, or why there is none. */
export type Candidate = Either.Either<unknown, ReadonlyArray<FieldError>>

const logged = (errors: ReadonlyArray<FieldError>) => errors.map((e) => ({ field: e.field, message: e.message }))

/** The startup load: a table, or the layer fails with every problem found. */
export const initialTable = (
  source: string,
  candidate: Candidate,
  env: (name: string) => string | undefined
): Effect.Effect<RoutingTable, RoutingLoadFailed> =>
  Either.match(
    Either.flatMap(candidate, (value) => decodeRoutingConfig(value, env)),
    {
      onLeft: (errors) => Effect.fail(new RoutingLoadFailed({ source, errors })),
      onRight: Effect.succeed
    }
  )

/**
 * What every source shares on top of the last-known-good holder: one lock, so a watcher's load
 * and a `reload` never interleave (the status would otherwise describe a different load than
 * the table in force), and one place that logs outcomes.
 */
export interface RoutingLoader {
  readonly state: RoutingState
  /** Runs a read of the source and the `apply` of what it read as one step. */
  readonly serialized: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /**
   * Offers one candidate: a valid config swaps in, anything else keeps the table and counts as
   * rejected. One warning per refused load, with the field errors (never a value from the file or
   * the environment: messages name fields and conventional variable names, they do not repeat
   * values); one info line per new revision.
   */
  readonly apply: (candidate: Candidate) => Effect.Effect<RoutingStatus>
}

export const makeRoutingLoader = (options: {
  readonly source: string
  readonly env: (name: string) => string | undefined
  readonly initial: RoutingTable
}): Effect.Effect<RoutingLoader> =>
  Effect.gen(function* () {
    const { source } = options
    const state = yield* makeRoutingState(options)
    const lock = yield* Effect.makeSemaphore(1)
    yield* Effect.logInfo({ event: "Routing.loaded", source, revision: options.initial.revision })
    const apply = (candidate: Candidate) =>
      Effect.gen(function* () {
        const before = yield* state.status
        const errors = Either.isLeft(candidate)
          ? yield* Effect.as(state.reject(candidate.left), candidate.left)
          : Either.getLeft(yield* state.offer(candidate.right)).pipe(Option.getOrUndefined)
        const after = yield* state.status
        if (errors !== undefined)
          yield* Effect.logWarning({
            event: "Routing.rejected",
            source,
            revision: after.revision,
            rejected: after.rejected,
            errors: logged(errors)
          })
        else if (after.revision !== before.revision || Option.isSome(before.lastError)) {
          const models = (yield* state.table).models.size
          const line = { event: "Routing.applied", source, revision: after.revision, previous: before.revision, models }
          // Valid, but every chat request is now refused: worth a warning, not a refusal of the
          // config (an operator may mean it).
          if (models === 0)
            yield* Effect.logWarning({
              ...line,
              warning:
                "no model is routed: chat answers 404 MODEL_NOT_FOUND (501 PROVIDER_NOT_CONFIGURED without providers)"
            })
          else yield* Effect.logInfo(line)
        }
        return after
      })
    return { state, serialized: lock.withPermits(1), apply }
  })
