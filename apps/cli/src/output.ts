import { escapeControlCharacters } from "@ibex/domain"
import { Console, Data, Effect } from "effect"

/**
 * A failure the CLI explains to its user: one line on stderr (or `{"error":{…}}` with --json)
 * and a non-zero exit code. 2: the command line was wrong (usage); 1: the operation failed.
 * Messages never carry a token, a hash or a connection string.
 */
export class CliError extends Data.TaggedError("CliError")<{
  readonly message: string
  readonly exitCode: 1 | 2
  /** The message is already the line to print (a configuration failure's JSON line). */
  readonly preformatted?: boolean
}> {}

export const usageError = (message: string, options?: { readonly preformatted: boolean }) =>
  new CliError({ message, exitCode: 2, preformatted: options?.preformatted ?? false })
export const operationError = (message: string) => new CliError({ message, exitCode: 1 })

/** DEL, C1 and the bidirectional controls, which JSON.stringify leaves raw (it escapes C0 itself). */
const jsonRawControls = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g

/**
 * JSON with bigints as decimal strings and dates as ISO text. Every control character in a string
 * is a `\uXXXX` escape (the same JSON value): stored data never reaches a terminal raw.
 */
export const toJson = (value: unknown): string =>
  JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString(10) : v), 2).replace(
    jsonRawControls,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`
  )

/**
 * What a command prints: JSON on stdout with --json, otherwise the human lines. Lines show stored
 * data (names), so their control characters are printed escaped (`\u{1b}`), never raw.
 */
export const emit = (json: boolean, machine: unknown, human: () => ReadonlyArray<string>) =>
  json
    ? Console.log(toJson(machine))
    : Effect.forEach(human(), (line) => Console.log(escapeControlCharacters(line)), { discard: true })

export const printError = (json: boolean, error: CliError) =>
  error.preformatted === true
    ? Console.error(error.message)
    : json
      ? Console.error(toJson({ error: { message: error.message, exit_code: error.exitCode } }))
      : Console.error(`ibex: ${escapeControlCharacters(error.message)}`)

/** Fixed-width columns for list output. */
export const table = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): Array<string> => {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd()
  return [line(headers), ...rows.map(line)]
}

export const iso = (d: Date | null | undefined): string => (d ? d.toISOString() : "-")
