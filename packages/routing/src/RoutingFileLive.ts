import { resolve } from "node:path"
import { Routing } from "@ibex/domain"
import { Effect, Layer, Ref, Stream } from "effect"
import { processEnv } from "./env.js"
import type { RoutingLoadFailed } from "./errors.js"
import { changeSignals } from "./fileWatch.js"
import { initialTable, makeRoutingLoader } from "./loader.js"
import { formatOfPath } from "./parse.js"
import { readRoutingFile } from "./readRoutingFile.js"

export interface RoutingFileOptions {
  /** The routing file (IBEX_ROUTES_FILE): `.json`, `.yaml` / `.yml`, or anything else (JSON, then YAML). */
  readonly path: string
  /** Resolves `api_key_env` names; the process environment by default. */
  readonly env?: (name: string) => string | undefined
  /** How often the file is re-read whatever fs.watch says. Default 1000. */
  readonly pollIntervalMs?: number
  /** Quiet time after a burst of fs.watch events before the file is read. Default 50. */
  readonly debounceMs?: number
}

/**
 * Routing from a file, hot-reloaded. The first load must succeed or the layer fails with every
 * problem found; after that a bad file (unreadable, bad syntax, an invalid config) keeps the
 * last good table and shows in `status`. The watcher lives in the layer's scope.
 */
export const RoutingFileLive = (options: RoutingFileOptions): Layer.Layer<Routing, RoutingLoadFailed> =>
  Layer.scoped(
    Routing,
    Effect.gen(function* () {
      const path = resolve(options.path)
      const source = `file:${path}`
      const env = options.env ?? processEnv
      const format = formatOfPath(path)

      const first = yield* readRoutingFile(path, format)
      const initial = yield* initialTable(source, first.candidate(), env)
      const loader = yield* makeRoutingLoader({ source, env, initial })
      const seen = yield* Ref.make(first.fingerprint)

      /** Reads the file; applies it when `always` or when it differs from the last read. The status after. */
      const load = (always: boolean) =>
        loader.serialized(
          Effect.gen(function* () {
            const read = yield* readRoutingFile(path, format)
            const previous = yield* Ref.getAndSet(seen, read.fingerprint)
            if (!always && previous === read.fingerprint) return yield* loader.state.status
            return yield* loader.apply(read.candidate())
          })
        )

      yield* changeSignals(path, {
        pollIntervalMs: options.pollIntervalMs ?? 1_000,
        debounceMs: options.debounceMs ?? 50
      }).pipe(
        Stream.runForEach(() => load(false).pipe(Effect.withSpan("Routing.watch", { attributes: { source } }))),
        Effect.forkScoped
      )

      return Routing.of({
        table: loader.state.table,
        current: loader.state.current,
        status: loader.state.status,
        reload: load(true).pipe(Effect.withSpan("Routing.reload", { attributes: { source } }))
      })
    })
  )
