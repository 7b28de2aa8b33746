import { type Console, Effect } from "effect"
import { describe, expect, it } from "vitest"
import { emit, printError, usageError } from "../src/output.js"
import { nameArg } from "../src/validate.js"

/**
 * Issue 14, item 9: the CLI never prints a raw control character from stored data (a name written
 * before names were checked, or by an operator's SQL): C0, DEL, C1 and the bidirectional controls
 * are shown escaped, in human lines and in --json alike; and a name it is given is checked by the
 * domain's rule before anything is sent.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: what the output must not contain
const raw = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/

const printed = (effect: Effect.Effect<void>): string => {
  const out: Array<string> = []
  const capture = (...args: ReadonlyArray<unknown>) =>
    Effect.sync(() => {
      out.push(args.map(String).join(" "))
    })
  const console = { log: capture, error: capture } as unknown as Console.Console
  Effect.runSync(Effect.withConsole(effect, console))
  return out.join("\n")
}

const stored = "evil\u001b]0;pwned\u0007\u001b[2J\u009b31m\u202Etxt.exe\u2066x\u007f"

describe("CLI output escapes control characters", () => {
  it("human lines show them escaped, never raw", () => {
    const text = printed(emit(false, {}, () => [`name  ${stored}`]))
    expect(text).not.toMatch(raw)
    expect(text).toContain("\\u{1b}")
    expect(text).toContain("\\u{202e}")
  })

  it("--json escapes them too and stays the same JSON value", () => {
    const text = printed(emit(true, { name: stored }, () => []))
    expect(text).not.toMatch(raw)
    expect(JSON.parse(text)).toEqual({ name: stored })
  })

  it("error messages (which may quote an argument) are escaped", () => {
    const text = printed(printError(false, usageError(`no org with id or name "${stored}"`)))
    expect(text).not.toMatch(raw)
  })

  it("a name argument with a control character is a usage error, by the domain's rule", () => {
    for (const name of ["a\u001bb", "a\u202Eb", "a\u0085b", "line\nbreak"]) {
      const result = Effect.runSync(Effect.either(nameArg("--name", name, 200)))
      expect(result._tag, JSON.stringify(name)).toBe("Left")
      if (result._tag === "Left") expect(result.left.message).toMatch(/control characters/)
    }
    expect(Effect.runSync(nameArg("--name", "Zoë 🚀", 200))).toBe("Zoë 🚀")
  })
})
