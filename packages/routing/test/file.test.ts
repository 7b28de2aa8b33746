import { mkdir, rename, rm, symlink, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Routing } from "@ibex/domain"
import { routingSourceContract } from "@ibex/testkit/contracts"
import { Cause, Context, Effect, Exit, Layer, Logger, Option } from "effect"
import { RoutingFileLive, type RoutingFileOptions } from "../src/index.js"
import { fileHarness, replaceFile, tempDir } from "./fileHarness.js"

routingSourceContract("file", fileHarness())

const env = (name: string) => (name === "LOCAL_KEY" ? "k" : undefined)
const config = (models: ReadonlyArray<string>) =>
  JSON.stringify({
    providers: [{ id: "local", kind: "openai", base_url: "http://127.0.0.1:9000/v1", api_key_env: "LOCAL_KEY" }],
    models: models.map((name) => ({ name, targets: [{ provider: "local", model: name }] }))
  })
const yaml = (model: string) => `providers:
  - { id: local, kind: openai, base_url: "http://127.0.0.1:9000/v1", api_key_env: LOCAL_KEY }
models:
  - name: ${model}
    targets: [{ provider: local, model: ${model} }]
`

/** A scratch directory for one test, removed with its scope. */
const scratch = Effect.acquireRelease(Effect.promise(tempDir), (dir) =>
  Effect.promise(() => rm(dir, { recursive: true, force: true }))
)

const quiet = Logger.replace(Logger.defaultLogger, Logger.none)

const routingAt = (options: Omit<RoutingFileOptions, "env">) =>
  Layer.build(RoutingFileLive({ env, ...options })).pipe(
    Effect.map((ctx) => Context.get(ctx, Routing)),
    Effect.provide(quiet)
  )

const modelsWithin = (routing: Context.Tag.Service<Routing>, expected: ReadonlyArray<string>, timeoutMs: number) =>
  Effect.gen(function* () {
    const until = Date.now() + timeoutMs
    for (;;) {
      const names = [...(yield* routing.table).models.keys()]
      if (JSON.stringify(names) === JSON.stringify(expected)) return
      if (Date.now() > until)
        return yield* Effect.dieMessage(`models ${JSON.stringify(expected)} not within ${timeoutMs} ms`)
      yield* Effect.sleep("20 millis")
    }
  })

describe("RoutingFileLive", () => {
  it.scopedLive("an unknown extension is read as JSON, else as YAML", () =>
    Effect.gen(function* () {
      const dir = yield* scratch
      const path = join(dir, "routes.conf")
      yield* Effect.promise(() => writeFile(path, yaml("from-yaml")))
      const routing = yield* routingAt({ path })
      yield* modelsWithin(routing, ["from-yaml"], 0)
      yield* Effect.promise(() => replaceFile(path, config(["from-json"])))
      yield* modelsWithin(routing, ["from-json"], 3_000)
    })
  )

  it.scopedLive("a .json file holding YAML fails at startup with a JSON syntax error", () =>
    Effect.gen(function* () {
      const dir = yield* scratch
      const path = join(dir, "routes.json")
      yield* Effect.promise(() => writeFile(path, yaml("m")))
      const exit = yield* Effect.exit(Effect.scoped(routingAt({ path })))
      const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause).pipe(Option.getOrUndefined) : undefined
      expect(failure?._tag).toBe("RoutingLoadFailed")
      expect(failure?.source).toBe(`file:${path}`)
      expect(failure?.errors[0]?.message).toMatch(/^invalid JSON/)
    })
  )

  it.scopedLive("a JSON syntax error does not quote the file's text (a key pasted into it stays out of logs)", () =>
    Effect.gen(function* () {
      const dir = yield* scratch
      const path = join(dir, "routes.json")
      yield* Effect.promise(() => writeFile(path, '{"providers": [{"api_key": sk-live-0123456789abcdef}]}'))
      const exit = yield* Effect.exit(Effect.scoped(routingAt({ path })))
      const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause).pipe(Option.getOrUndefined) : undefined
      expect(failure?.errors.map((e) => e.message)).toEqual(["invalid JSON: Unexpected token 's' (not valid JSON)"])
      expect(failure?.message).not.toContain("0123456789")
    })
  )

  it.scopedLive("a missing file fails at startup", () =>
    Effect.gen(function* () {
      const dir = yield* scratch
      const exit = yield* Effect.exit(Effect.scoped(routingAt({ path: join(dir, "absent.yaml") })))
      const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause).pipe(Option.getOrUndefined) : undefined
      expect(failure?.errors.map((e) => e.message)).toEqual([expect.stringContaining("ENOENT")])
    })
  )

  it.scopedLive("a valid config that routes no model is applied with a warning (chat is refused)", () =>
    Effect.gen(function* () {
      const dir = yield* scratch
      const path = join(dir, "routes.json")
      yield* Effect.promise(() => writeFile(path, config(["m"])))
      const lines: Array<{ level: string; message: unknown }> = []
      const capture = Logger.replace(
        Logger.defaultLogger,
        Logger.make(({ logLevel, message }) => lines.push({ level: logLevel.label, message }))
      )
      const routing = yield* Layer.build(RoutingFileLive({ env, path })).pipe(
        Effect.map((ctx) => Context.get(ctx, Routing)),
        Effect.provide(capture)
      )
      yield* Effect.promise(() => replaceFile(path, JSON.stringify({ providers: [], models: [] })))
      yield* modelsWithin(routing, [], 3_000)
      const applied = () =>
        lines.find(
          (l) =>
            JSON.stringify(l.message).includes("Routing.applied") && JSON.stringify(l.message).includes('"models":0')
        )
      const until = Date.now() + 2_000
      while (applied() === undefined && Date.now() < until) yield* Effect.sleep("20 millis")
      expect(applied()?.level).toBe("WARN")
      expect(JSON.stringify(applied()?.message)).toContain("no model is routed")
    })
  )

  it.scopedLive("a UTF-8 byte-order mark is ignored", () =>
    Effect.gen(function* () {
      const dir = yield* scratch
      const path = join(dir, "routes.json")
      yield* Effect.promise(() => writeFile(path, `\uFEFF${config(["bom"])}`))
      const routing = yield* routingAt({ path })
      yield* modelsWithin(routing, ["bom"], 0)
    })
  )

  it.scopedLive("an in-place overwrite (same inode) is picked up", () =>
    Effect.gen(function* () {
      const dir = yield* scratch
      const path = join(dir, "routes.json")
      yield* Effect.promise(() => writeFile(path, config(["a"])))
      const routing = yield* routingAt({ path })
      yield* Effect.promise(() => writeFile(path, config(["a", "b"])))
      yield* modelsWithin(routing, ["a", "b"], 3_000)
    })
  )

  it.scopedLive("a Kubernetes ConfigMap update (the ..data symlink swapped) is picked up", () =>
    Effect.gen(function* () {
      const dir = yield* scratch
      const version = (name: string, text: string) =>
        Effect.promise(async () => {
          await mkdir(join(dir, name))
          await writeFile(join(dir, name, "routes.yaml"), text)
        })
      yield* version("..v1", yaml("v1"))
      yield* Effect.promise(async () => {
        await symlink("..v1", join(dir, "..data"))
        await symlink("..data/routes.yaml", join(dir, "routes.yaml"))
      })
      const routing = yield* routingAt({ path: join(dir, "routes.yaml") })
      yield* modelsWithin(routing, ["v1"], 0)
      // What the kubelet does: a new directory, a new symlink beside the old, renamed over it.
      yield* version("..v2", yaml("v2"))
      yield* Effect.promise(async () => {
        await symlink("..v2", join(dir, "..data_tmp"))
        await rename(join(dir, "..data_tmp"), join(dir, "..data"))
        await rm(join(dir, "..v1"), { recursive: true })
      })
      yield* modelsWithin(routing, ["v2"], 3_000)
    })
  )

  it.scopedLive("polling alone picks up a change (fs.watch events held back by a long debounce)", () =>
    Effect.gen(function* () {
      const dir = yield* scratch
      const path = join(dir, "routes.json")
      yield* Effect.promise(() => writeFile(path, config(["a"])))
      const routing = yield* routingAt({ path, pollIntervalMs: 100, debounceMs: 60_000 })
      yield* Effect.promise(() => replaceFile(path, config(["polled"])))
      yield* modelsWithin(routing, ["polled"], 1_000)
    })
  )

  it.scopedLive("fs.watch alone picks up a change (the poll an hour away)", () =>
    Effect.gen(function* () {
      const dir = yield* scratch
      const path = join(dir, "routes.json")
      yield* Effect.promise(() => writeFile(path, config(["a"])))
      const routing = yield* routingAt({ path, pollIntervalMs: 3_600_000, debounceMs: 20 })
      yield* Effect.sleep("100 millis")
      yield* Effect.promise(() => replaceFile(path, config(["watched"])))
      yield* modelsWithin(routing, ["watched"], 1_000)
    })
  )

  it.scopedLive("a file that stays broken is one rejected load, not one per poll", () =>
    Effect.gen(function* () {
      const dir = yield* scratch
      const path = join(dir, "routes.json")
      yield* Effect.promise(() => writeFile(path, config(["a"])))
      const routing = yield* routingAt({ path, pollIntervalMs: 50 })
      yield* Effect.promise(() => replaceFile(path, "{"))
      yield* Effect.sleep("600 millis")
      expect((yield* routing.status).rejected).toBe(1)
      yield* Effect.promise(() => rm(path))
      yield* Effect.sleep("600 millis")
      const status = yield* routing.status
      expect(status.rejected).toBe(2)
      expect(Option.getOrThrow(status.lastError).errors[0]?.message).toContain("ENOENT")
      expect([...(yield* routing.table).models.keys()]).toEqual(["a"])
    })
  )
})
