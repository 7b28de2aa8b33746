import { watch } from "node:fs"
import { basename, dirname } from "node:path"
import { Duration, Effect, Schedule, Stream } from "effect"

/**
 * Ticks whenever the routing file may have changed; the caller decides whether it did (by
 * content). Two triggers, because neither is enough alone:
 *  - `fs.watch` on the file's directory, not the file: editors and `mv` replace the inode, and
 *    a Kubernetes ConfigMap swaps a `..data` symlink next to it, so a watch on the file itself
 *    goes deaf after the first save. Only events naming the file, a Kubernetes `..`-entry, or no
 *    name at all count (the caller compares content): a log file written next to the routes file
 *    fired one event per write, and each cost a fiber and a debounce step, under load a tenth of
 *    the proxy's CPU. A burst of events is debounced into one tick.
 *  - a poll every `pollIntervalMs`, because fs.watch misses events on some filesystems (NFS,
 *    some container mounts) and dies with its directory. The poll is not debounced: a directory
 *    with a busy neighbour file would otherwise keep pushing the tick out forever.
 * A watcher that fails (the directory went away) is re-created on the poll interval; each new
 * watcher ticks once, so a change made while it was down is not missed.
 */
export const changeSignals = (
  path: string,
  options: { readonly pollIntervalMs: number; readonly debounceMs: number }
): Stream.Stream<void> => {
  const dir = dirname(path)
  const name = basename(path)
  const concernsTheFile = (filename: string | null) =>
    filename === null || filename === name || filename.startsWith("..")
  // asyncPush: an event is handed over synchronously (asyncScoped runs a fiber per event).
  const events = Stream.asyncPush<void, Error>(
    (emit) =>
      Effect.acquireRelease(
        Effect.try({
          try: () => {
            const watcher = watch(dir, { persistent: true }, (_event, filename) => {
              if (concernsTheFile(filename)) emit.single(undefined)
            })
            watcher.on("error", (e) => emit.fail(e))
            emit.single(undefined)
            return watcher
          },
          catch: (e) => (e instanceof Error ? e : new Error(String(e)))
        }),
        (watcher) => Effect.sync(() => watcher.close())
      ),
    { bufferSize: 1, strategy: "sliding" }
  )
  const watched = events.pipe(
    Stream.debounce(Duration.millis(options.debounceMs)),
    Stream.tapError((e) =>
      Effect.logWarning({ event: "Routing.watch_failed", dir, reason: e.message, fallback: "polling" })
    ),
    Stream.retry(Schedule.spaced(Duration.millis(options.pollIntervalMs))),
    Stream.catchAll(() => Stream.empty)
  )
  const polled = Stream.fromSchedule(Schedule.spaced(Duration.millis(options.pollIntervalMs))).pipe(
    Stream.as(undefined)
  )
  return Stream.merge(watched, polled)
}
