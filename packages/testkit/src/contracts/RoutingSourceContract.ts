import { describe, expect, it } from "@effect/vitest"
import { decodeRoutingConfig, Routing, type RoutingShape, type RoutingTable } from "@ibex/domain"
import { Cause, Context, Effect, Either, Exit, Fiber, Layer, Logger, Option, Scope } from "effect"

export type RoutingTextFormat = "json" | "yaml"

/** One running source under test, holding `initial.text` until `write` changes it. */
export interface RoutingSourceUnderTest {
  /** A fresh `Routing` for the source; building it does the startup load. */
  readonly layer: Layer.Layer<Routing, unknown>
  /** Replaces the source's text (a file save, a KV put) and resolves once the source holds it. */
  readonly write: (text: string) => Promise<void>
  /** Takes the config away (the file deleted, the key deleted), where the source can express that. */
  readonly remove?: () => Promise<void>
  /** Removes what `start` made (the temporary directory, the bucket) and closes its own connections. */
  readonly cleanup: () => Promise<void>
}

export interface RoutingSourceHarness {
  /**
   * A new, isolated source holding `text`. `format` is what the text is written in (a file
   * source picks the extension from it); `env` is what the layer must resolve `api_key_env` with.
   */
  readonly start: (initial: {
    readonly text: string
    readonly format: RoutingTextFormat
    readonly env: (name: string) => string | undefined
  }) => Promise<RoutingSourceUnderTest>
}

// ---- configs ----

/** Never printed by a source: the contract fails when it shows up in a log line. */
const SECRET = "sk-routing-contract-secret-0123456789"
const envVars: Record<string, string> = { LOCAL_KEY: SECRET }
const env = (name: string): string | undefined => envVars[name]

const provider = { id: "local", kind: "openai", base_url: "http://127.0.0.1:9000/v1", api_key_env: "LOCAL_KEY" }
const target = (model: string, providerId = "local") => ({ provider: providerId, model })

const configA = { providers: [provider], models: [{ name: "gpt-4o-mini", targets: [target("gpt-4o-mini")] }] }
const configB = {
  providers: [provider],
  models: [
    { name: "gpt-4o-mini", targets: [target("gpt-4o-mini")] },
    { name: "gpt-4o", targets: [target("gpt-4o")] }
  ]
}
const modelsA = ["gpt-4o-mini"]
const modelsB = ["gpt-4o-mini", "gpt-4o"]

const yamlA = `# the same config as configA
providers:
  - id: local
    kind: openai
    base_url: http://127.0.0.1:9000/v1
    api_key_env: LOCAL_KEY
models:
  - name: gpt-4o-mini
    targets:
      - { provider: local, model: gpt-4o-mini }
`
const yamlB = `${yamlA}  - name: gpt-4o
    targets:
      - provider: local
        model: gpt-4o
`

const json = (config: unknown) => JSON.stringify(config, null, 2)
const textA = json(configA)
const textB = json(configB)

const revisionOf = (config: unknown): string =>
  Either.getOrThrowWith(decodeRoutingConfig(config, env), (e) => new Error(JSON.stringify(e))).revision
const revA = revisionOf(configA)
const revB = revisionOf(configB)

/** Invalid configs, each with the field its error must name. */
const invalid = [
  { name: "bad JSON syntax", text: '{ "providers": [ { "id": "local",', field: "config" },
  {
    name: "schema-valid, but a target names an unknown provider",
    text: json({
      providers: [provider],
      models: [{ name: "gpt-4o-mini", targets: [target("gpt-4o-mini", "nowhere")] }]
    }),
    field: "models.0.targets.0.provider"
  },
  {
    name: "an api_key_env variable that is not set",
    text: json({ ...configA, providers: [{ ...provider, api_key_env: "IBEX_ROUTING_CONTRACT_UNSET" }] }),
    field: "providers.0.api_key_env"
  }
] as const

// ---- helpers ----

/** Every log line a source writes, as JSON text, to search for events and leaked secrets. */
const collector = (lines: Array<string>) =>
  Logger.make(({ logLevel, message }) => {
    lines.push(`${logLevel.label} ${JSON.stringify(message)}`)
  })

const events = (lines: ReadonlyArray<string>, event: string) => lines.filter((l) => l.includes(`"event":"${event}"`))

const startSource = (
  harness: RoutingSourceHarness,
  text: string,
  format: RoutingTextFormat = "json"
): Effect.Effect<
  { readonly sut: RoutingSourceUnderTest; readonly routing: RoutingShape; readonly logs: Array<string> },
  unknown,
  Scope.Scope
> =>
  Effect.gen(function* () {
    const sut = yield* Effect.acquireRelease(
      Effect.promise(() => harness.start({ text, format, env })),
      (s) => Effect.promise(() => s.cleanup())
    )
    const logs: Array<string> = []
    const context = yield* Layer.build(sut.layer).pipe(
      Effect.provide(Logger.replace(Logger.defaultLogger, collector(logs)))
    )
    return { sut, routing: Context.get(context, Routing), logs }
  })

const write = (sut: RoutingSourceUnderTest, text: string) => Effect.promise(() => sut.write(text))

/** Polls `read` until `done` holds; dies naming `what` after `timeoutMs` (the contract's bound is 3 s). */
const eventually = <A>(read: Effect.Effect<A>, done: (a: A) => boolean, what: string, timeoutMs = 3_000) =>
  Effect.gen(function* () {
    const until = Date.now() + timeoutMs
    for (;;) {
      const a = yield* read
      if (done(a)) return a
      if (Date.now() > until) return yield* Effect.dieMessage(`not within ${timeoutMs} ms: ${what}`)
      yield* Effect.sleep("20 millis")
    }
  })

/** Long enough for a second (double-counted) load to land: a poll interval, a debounce, a KV round trip. */
const settle = Effect.sleep("1200 millis")

const modelNames = (t: RoutingTable) => [...t.models.keys()]

/** A table is A or B as a whole: its revision and its contents agree. */
const wholeTable = (t: RoutingTable): "A" | "B" | "mixed" => {
  const names = JSON.stringify(modelNames(t))
  const complete = t.providers.size === 1 && [...t.models.values()].every((m) => m.targets.length === 1)
  if (t.revision === revA && names === JSON.stringify(modelsA) && complete) return "A"
  if (t.revision === revB && names === JSON.stringify(modelsB) && complete) return "B"
  return "mixed"
}

const activeResources = () => {
  const counts = new Map<string, number>()
  for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1)
  return counts
}
const beyond = (baseline: Map<string, number>) =>
  [...activeResources()]
    .filter(([kind, n]) => n > (baseline.get(kind) ?? 0))
    .map(([kind, n]) => `${kind} × ${n - (baseline.get(kind) ?? 0)}`)

const failureOf = (exit: Exit.Exit<unknown, unknown>): unknown =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

const T = 30_000

/**
 * The routing source contract, written once and run over every source (a watched file, a NATS
 * KV entry): the startup load, hot reload within 3 s, last-known-good on every kind of bad
 * config, `reload`, atomic swaps under rapid writes, JSON and YAML, and a clean stop.
 */
export const routingSourceContract = (name: string, harness: RoutingSourceHarness): void => {
  describe(`Routing source contract [${name}]`, () => {
    it.scopedLive(
      "serves the initial config: its models, providers and revision",
      () =>
        Effect.gen(function* () {
          const { routing } = yield* startSource(harness, textA)
          const table = yield* routing.table
          expect(table.revision).toBe(revA)
          expect(modelNames(table)).toEqual(modelsA)
          const local = table.providers.get("local")
          expect(local?.baseUrl).toBe("http://127.0.0.1:9000/v1")
          expect(local?.apiKey.pipe(Option.isSome)).toBe(true)
          const status = yield* routing.status
          expect(status.revision).toBe(revA)
          expect(status.rejected).toBe(0)
          expect(Option.isNone(status.lastError)).toBe(true)
          expect(Option.isSome(status.loadedAtMs)).toBe(true)
          expect(status.source.length).toBeGreaterThan(0)
        }),
      T
    )

    it.scopedLive(
      "picks up a valid change within 3 s, with a new revision",
      () =>
        Effect.gen(function* () {
          const { sut, routing, logs } = yield* startSource(harness, textA)
          yield* write(sut, textB)
          const table = yield* eventually(routing.table, (t) => t.revision === revB, "the new revision")
          expect(modelNames(table)).toEqual(modelsB)
          // The warm path's read without an Effect (when offered) is the same table.
          if (routing.current !== undefined) expect(routing.current()).toBe(table)
          const status = yield* routing.status
          expect(status.revision).toBe(revB)
          expect(status.rejected).toBe(0)
          expect(events(logs, "Routing.applied").filter((l) => l.includes(revB))).toHaveLength(1)
        }),
      T
    )

    for (const bad of invalid) {
      it.scopedLive(
        `${bad.name}: the last good table stays, one rejected load, lastError names ${bad.field}`,
        () =>
          Effect.gen(function* () {
            const { sut, routing, logs } = yield* startSource(harness, textA)
            const good = yield* routing.table
            yield* write(sut, bad.text)
            yield* eventually(routing.status, (s) => s.rejected === 1, "the rejected count to reach 1")
            yield* settle
            const status = yield* routing.status
            expect(status.rejected).toBe(1)
            expect(status.revision).toBe(revA)
            expect(yield* routing.table).toBe(good)
            if (routing.current !== undefined) expect(routing.current()).toBe(good)
            const lastError = Option.getOrThrow(status.lastError)
            expect(lastError.errors.map((e) => e.field)).toContain(bad.field)
            expect(events(logs, "Routing.rejected")).toHaveLength(1)
            expect(events(logs, "Routing.rejected")[0]).toContain(bad.field)
            expect(logs.join("\n")).not.toContain(SECRET)
          }),
        T
      )
    }

    it.scopedLive(
      "a good config after a bad one is applied and clears lastError (the count stays)",
      () =>
        Effect.gen(function* () {
          const { sut, routing } = yield* startSource(harness, textA)
          yield* write(sut, invalid[1].text)
          yield* eventually(routing.status, (s) => Option.isSome(s.lastError), "the rejection")
          yield* write(sut, textB)
          const status = yield* eventually(routing.status, (s) => s.revision === revB, "the good config")
          expect(Option.isNone(status.lastError)).toBe(true)
          expect(status.rejected).toBe(1)
          expect((yield* routing.table).revision).toBe(revB)
        }),
      T
    )

    it.scopedLive(
      "a removed config keeps the last good table and counts one rejected load",
      (ctx) =>
        Effect.gen(function* () {
          const { sut, routing } = yield* startSource(harness, textA)
          const remove = sut.remove
          if (remove === undefined) return ctx.skip()
          yield* Effect.promise(() => remove())
          yield* eventually(routing.status, (s) => s.rejected === 1, "the removal to count as rejected")
          yield* settle
          const status = yield* routing.status
          expect(status.rejected).toBe(1)
          expect(Option.isSome(status.lastError)).toBe(true)
          expect((yield* routing.table).revision).toBe(revA)
          yield* write(sut, textB)
          yield* eventually(routing.status, (s) => s.revision === revB && Option.isNone(s.lastError), "recovery")
        }),
      T
    )

    it.scopedLive(
      "reload returns the status; on an unchanged source it changes nothing",
      () =>
        Effect.gen(function* () {
          const { routing } = yield* startSource(harness, textA)
          const status = yield* routing.reload
          expect(status.revision).toBe(revA)
          expect(status.rejected).toBe(0)
          expect(Option.isNone(status.lastError)).toBe(true)
          expect(yield* routing.status).toEqual(status)
        }),
      T
    )

    it.scopedLive(
      "reload applies a changed source immediately, and reports a bad one",
      () =>
        Effect.gen(function* () {
          const { sut, routing } = yield* startSource(harness, textA)
          yield* write(sut, textB)
          const applied = yield* routing.reload
          expect(applied.revision).toBe(revB)
          expect((yield* routing.table).revision).toBe(revB)
          yield* write(sut, invalid[2].text)
          const refused = yield* routing.reload
          expect(refused.revision).toBe(revB)
          expect(refused.rejected).toBeGreaterThanOrEqual(1)
          expect(Option.getOrThrow(refused.lastError).errors.map((e) => e.field)).toContain(invalid[2].field)
          expect((yield* routing.table).revision).toBe(revB)
        }),
      T
    )

    it.scopedLive(
      "swaps atomically: under 50 rapid writes of two configs every read is one whole table",
      () =>
        Effect.gen(function* () {
          const { sut, routing } = yield* startSource(harness, textA)
          const seen = { A: 0, B: 0, mixed: 0 }
          const read = Effect.map(routing.table, (t) => {
            seen[wholeTable(t)]++
            if (routing.current !== undefined) seen[wholeTable(routing.current())]++
          })
          const reader = yield* Effect.forkScoped(Effect.forever(Effect.zipRight(read, Effect.sleep("1 millis"))))
          // The writer reads too, after every write, so the count of reads does not depend on how
          // fast the source is against the reader's timer (a fast NATS once gave it 47 reads).
          for (let i = 0; i < 50; i++) {
            yield* write(sut, i % 2 === 0 ? textA : textB)
            yield* read
          }
          // The last write is B: it must be the table in the end, not an earlier one.
          yield* eventually(routing.table, (t) => t.revision === revB, "the last write")
          yield* Fiber.interrupt(reader)
          expect(seen.mixed).toBe(0)
          expect(seen.A + seen.B).toBeGreaterThanOrEqual(50)
          expect((yield* routing.status).rejected).toBe(0)
        }),
      T
    )

    it.scopedLive(
      "YAML works: served, changed, and its syntax errors rejected",
      () =>
        Effect.gen(function* () {
          const { sut, routing } = yield* startSource(harness, yamlA, "yaml")
          expect((yield* routing.table).revision).toBe(revA)
          yield* write(sut, yamlB)
          const table = yield* eventually(routing.table, (t) => t.revision === revB, "the YAML change")
          expect(modelNames(table)).toEqual(modelsB)
          yield* write(sut, "providers: [\n  { id: local\nmodels: ]\n")
          const status = yield* eventually(routing.status, (s) => s.rejected === 1, "the YAML syntax error")
          expect(Option.getOrThrow(status.lastError).errors.map((e) => e.field)).toContain("config")
          expect((yield* routing.table).revision).toBe(revB)
        }),
      T
    )

    it.scopedLive(
      "the layer fails at startup on an invalid config, listing every problem",
      () =>
        Effect.gen(function* () {
          const twoProblems = json({
            providers: [{ ...provider, api_key_env: "IBEX_ROUTING_CONTRACT_UNSET" }],
            models: [{ name: "gpt-4o-mini", targets: [target("gpt-4o-mini", "nowhere")] }]
          })
          const sut = yield* Effect.acquireRelease(
            Effect.promise(() => harness.start({ text: twoProblems, format: "json", env })),
            (s) => Effect.promise(() => s.cleanup())
          )
          const failure = failureOf(yield* Effect.exit(Effect.scoped(Layer.build(sut.layer))))
          expect(failure).toMatchObject({ _tag: "RoutingLoadFailed" })
          const fields = (failure as { errors: ReadonlyArray<{ field: string }> }).errors.map((e) => e.field)
          expect(fields).toEqual(expect.arrayContaining(["providers.0.api_key_env", "models.0.targets.0.provider"]))

          const syntax = yield* Effect.acquireRelease(
            Effect.promise(() => harness.start({ text: invalid[0].text, format: "json", env })),
            (s) => Effect.promise(() => s.cleanup())
          )
          const syntaxFailure = failureOf(yield* Effect.exit(Effect.scoped(Layer.build(syntax.layer))))
          expect(syntaxFailure).toMatchObject({ _tag: "RoutingLoadFailed" })
          const syntaxFields = (syntaxFailure as { errors: ReadonlyArray<{ field: string }> }).errors.map(
            (e) => e.field
          )
          expect(syntaxFields.length).toBeGreaterThan(0)
          expect(new Set(syntaxFields)).toEqual(new Set(["config"]))
        }),
      T
    )

    it.scopedLive(
      "closing the scope stops watching: nothing logs after, nothing keeps the process alive",
      () =>
        Effect.gen(function* () {
          const sut = yield* Effect.acquireRelease(
            Effect.promise(() => harness.start({ text: textA, format: "json", env })),
            (s) => Effect.promise(() => s.cleanup())
          )
          // After `start`: the harness's own handles (a writer connection) are not the source's.
          const baseline = activeResources()
          const logs: Array<string> = []
          const scope = yield* Scope.make()
          const context = yield* Layer.buildWithScope(sut.layer, scope).pipe(
            Effect.provide(Logger.replace(Logger.defaultLogger, collector(logs)))
          )
          const routing = Context.get(context, Routing)
          // Watching for sure (a change got through) before the scope closes.
          yield* write(sut, textB)
          yield* eventually(routing.table, (t) => t.revision === revB, "the change before close")
          yield* Scope.close(scope, Exit.void)
          // Before cleanup: removing a watched directory would close a leaked watcher for us.
          yield* eventually(
            Effect.sync(() => beyond(baseline)),
            (left) => left.length === 0,
            "every handle and timer the source opened to be gone"
          ).pipe(
            Effect.catchAllDefect(() =>
              Effect.sync(() => expect(beyond(baseline), "handles left after the scope closed").toEqual([]))
            )
          )
          const linesAtClose = logs.length
          yield* write(sut, textA)
          yield* settle
          expect(logs.slice(linesAtClose)).toEqual([])
        }),
      T
    )
  })
}
