import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const module = fileURLToPath(new URL("../src/stackTraces.ts", import.meta.url))
// A fresh process each time: the setting is process-wide, so this test's own must not change.
const limitAfter = (nodeArgs: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  execFileSync(
    process.execPath,
    [
      ...nodeArgs,
      "--import",
      "tsx",
      "--input-type=module",
      "-e",
      `const { skipStackTraces } = await import(${JSON.stringify(module)}); skipStackTraces(); const e = new Error("x"); console.log(JSON.stringify({ limit: Error.stackTraceLimit, frames: (e.stack ?? "").split("\\n").length - 1 }))`
    ],
    { env: { ...process.env, NODE_OPTIONS: "", ...env }, encoding: "utf8" }
  ).trim()

describe("skipStackTraces", () => {
  it("errors carry no stack frames unless the operator asks with Node's --stack-trace-limit", () => {
    expect(JSON.parse(limitAfter([]))).toEqual({ limit: 0, frames: 0 })
    expect(JSON.parse(limitAfter(["--stack-trace-limit=7"]))).toMatchObject({ limit: 7 })
    expect(JSON.parse(limitAfter([], { NODE_OPTIONS: "--stack-trace-limit=5" }))).toMatchObject({ limit: 5 })
  })
})
