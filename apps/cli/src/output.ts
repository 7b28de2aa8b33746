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

/** JSON with bigints as decimal strings and dates as ISO text. */
export const toJson = (value: unknown): string =>
  JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString(10) : v), 2)

/** What a command prints: JSON on stdout with --json, otherwise the human lines. */
export const emit = (json: boolean, machine: unknown, human: () => ReadonlyArray<string>) =>
  json ? Console.log(toJson(machine)) : Effect.forEach(human(), (line) => Console.log(line), { discard: true })

export const printError = (json: boolean, error: CliError) =>
  error.preformatted === true
    ? Console.error(error.message)
    : json
      ? Console.error(toJson({ error: { message: error.message, exit_code: error.exitCode } }))
      : Console.error(`ibex: ${error.message}`)

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
