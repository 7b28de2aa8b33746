import { Context, Effect, Either, Layer, Option, Ref } from "effect"
import { FieldError } from "../FieldError.js"
import { decodeRoutingConfig, emptyRoutingTable, type RoutingTable } from "./RoutingTable.js"

/** Where the routing table came from and how its last loads went (GET /admin/routing). */
export interface RoutingStatus {
  readonly source: string
  readonly revision: string
  readonly loadedAtMs: Option.Option<number>
  /** Loads that were refused (bad syntax or a bad config); the last good table stayed. */
  readonly rejected: number
  readonly lastError: Option.Option<{ readonly atMs: number; readonly errors: ReadonlyArray<FieldError> }>
}

export interface RoutingShape {
  /** The table in force now. Swapped atomically: a request sees one table from start to end. */
  readonly table: Effect.Effect<RoutingTable>
  /** `table`, read without an Effect (the edge's warm path). Optional. */
  readonly current?: () => RoutingTable
  readonly status: Effect.Effect<RoutingStatus>
  /** Reads the source again now; a bad config keeps the last good table (and shows in `status`). */
  readonly reload: Effect.Effect<RoutingStatus>
}

export class Routing extends Context.Tag("@ibex/domain/Routing")<Routing, RoutingShape>() {}

/**
 * The last-known-good holder every routing source shares: `offer` validates a candidate config
 * as a whole and swaps it in, or records why not and keeps what is there.
 */
export interface RoutingState {
  readonly table: Effect.Effect<RoutingTable>
  readonly current: () => RoutingTable
  readonly status: Effect.Effect<RoutingStatus>
  /** A parsed config (JSON or YAML value): applied when valid. */
  readonly offer: (input: unknown) => Effect.Effect<Either.Either<RoutingTable, ReadonlyArray<FieldError>>>
  /** A load that failed before decoding (unreadable file, bad syntax). */
  readonly reject: (errors: ReadonlyArray<FieldError>) => Effect.Effect<void>
}

export const makeRoutingState = (options: {
  readonly source: string
  readonly env: (name: string) => string | undefined
  readonly initial?: RoutingTable
}): Effect.Effect<RoutingState> =>
  Effect.gen(function* () {
    // A plain variable: one assignment swaps the table, so every reader sees a whole one.
    let current = options.initial ?? emptyRoutingTable
    const statusRef = yield* Ref.make<RoutingStatus>({
      source: options.source,
      revision: (options.initial ?? emptyRoutingTable).revision,
      loadedAtMs: options.initial === undefined ? Option.none() : Option.some(Date.now()),
      rejected: 0,
      lastError: Option.none()
    })
    const reject = (errors: ReadonlyArray<FieldError>) =>
      Ref.update(statusRef, (s) => ({
        ...s,
        rejected: s.rejected + 1,
        lastError: Option.some({ atMs: Date.now(), errors })
      }))
    return {
      table: Effect.sync(() => current),
      current: () => current,
      status: Ref.get(statusRef),
      reject,
      offer: (input) => {
        const decoded = decodeRoutingConfig(input, options.env)
        if (Either.isLeft(decoded)) return Effect.as(reject(decoded.left), decoded)
        const table = decoded.right
        return Effect.as(
          Effect.zipRight(
            Effect.sync(() => {
              current = table
            }),
            Ref.update(statusRef, (s) => ({
              ...s,
              revision: table.revision,
              loadedAtMs: Option.some(Date.now()),
              lastError: Option.none()
            }))
          ),
          decoded
        )
      }
    } satisfies RoutingState
  })

/** A fixed table (tests, the embedded default): reload changes nothing. */
export const RoutingStatic = (table: RoutingTable, source = "static"): Layer.Layer<Routing> =>
  Layer.sync(Routing, () => {
    const status = Effect.succeed<RoutingStatus>({
      source,
      revision: table.revision,
      loadedAtMs: Option.some(Date.now()),
      rejected: 0,
      lastError: Option.none()
    })
    return { table: Effect.succeed(table), current: () => table, status, reload: status }
  })

/** A config-load error with one message (syntax errors, unreadable sources). */
export const configError = (field: string, message: string): FieldError => new FieldError({ field, message })
