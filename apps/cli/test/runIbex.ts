import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { ConfigProvider, Effect } from "effect"
import { expect } from "vitest"
import { cliEnvVars, runCli } from "../src/index.js"

/** The two ways the CLI's tests run `ibex`: the real binary in a child process, and its Effect in this process. */

const bin = fileURLToPath(new URL("../bin/ibex.mjs", import.meta.url))
export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))

export interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** This process's environment without any variable the CLI reads: each test says what it sets. */
export const baseEnv = (): Record<string, string | undefined> => {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: "1" }
  for (const v of cliEnvVars) delete env[v.name]
  return env
}

/** `node apps/cli/bin/ibex.mjs …`, as a user runs it. */
export const ibex = (args: ReadonlyArray<string>, env: Record<string, string | undefined>): Promise<Run> =>
  new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { cwd: repoRoot, env: env as NodeJS.ProcessEnv, timeout: 120_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1
        resolve({ code, stdout, stderr })
      }
    )
  })

/**
 * The same CLI in this process (its Effect, with the environment as a ConfigProvider and the
 * Console captured): for the many cases where a process start per case costs seconds.
 */
export const inProcess = (args: ReadonlyArray<string>, env: Record<string, string | undefined>): Promise<Run> => {
  const stdout: Array<string> = []
  const stderr: Array<string> = []
  const sink =
    (into: Array<string>) =>
    (...parts: ReadonlyArray<unknown>) =>
      Effect.sync(() => {
        into.push(`${parts.map(String).join(" ")}\n`)
      })
  const entries = Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined)
  return Effect.runPromise(
    Effect.flatMap(Effect.console, (base) => {
      const captured = new Proxy(base, {
        get: (target, key) =>
          key === "log" ? sink(stdout) : key === "error" ? sink(stderr) : Reflect.get(target, key, target)
      })
      return runCli(["node", "ibex", ...args]).pipe(
        Effect.withConsole(captured),
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map(entries)))
      )
    })
  ).then((code) => ({ code, stdout: stdout.join(""), stderr: stderr.join("") }))
}

/** A successful run's `--json` output. */
export const json = <A = Record<string, unknown>>(run: Run): A => {
  expect(run.code, run.stderr).toBe(0)
  return JSON.parse(run.stdout) as A
}
