import { configError, type FieldError } from "@ibex/domain"
import { Either } from "effect"
import { parseDocument } from "yaml"

export type TextFormat = "json" | "yaml" | "auto"

/** The format a file's extension promises; anything else is sniffed (JSON first, then YAML). */
export const formatOfPath = (path: string): TextFormat => {
  const lower = path.toLowerCase()
  if (lower.endsWith(".json")) return "json"
  if (lower.endsWith(".yaml") || lower.endsWith(".yml")) return "yaml"
  return "auto"
}

const firstLine = (s: string): string => s.split("\n", 1)[0] ?? s

/**
 * V8 quotes the text around an unexpected token (`Unexpected token 's', "…sk-live-…" is not valid
 * JSON`); the reason is logged and shown in `/admin/routing`, and a key pasted into the file by
 * mistake must not travel with it. The position-based messages quote nothing.
 */
const withoutQuotedSource = (message: string): string =>
  message.replace(/^(Unexpected token '.+?'), (?:"|\.\.\.).* is not valid JSON$/su, "$1 (not valid JSON)")

const parseJson = (text: string): Either.Either<unknown, ReadonlyArray<FieldError>> => {
  try {
    return Either.right(JSON.parse(text) as unknown)
  } catch (e) {
    const message = withoutQuotedSource(e instanceof Error ? e.message : String(e))
    return Either.left([configError("config", `invalid JSON: ${firstLine(message)}`)])
  }
}

const parseYaml = (text: string): Either.Either<unknown, ReadonlyArray<FieldError>> => {
  // Duplicate keys are errors: in a routing file the second one silently winning is a typo.
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true })
  if (doc.errors.length > 0)
    return Either.left(doc.errors.map((e) => configError("config", `invalid YAML: ${firstLine(e.message)}`)))
  try {
    // The alias cap stops a "billion laughs" document from expanding without bound.
    return Either.right(doc.toJS({ maxAliasCount: 100 }) as unknown)
  } catch (e) {
    return Either.left([
      configError("config", `invalid YAML: ${firstLine(e instanceof Error ? e.message : String(e))}`)
    ])
  }
}

/** Routing config text to a plain value for `decodeRoutingConfig`, or the syntax errors. */
export const parseRoutingText = (
  raw: string,
  format: TextFormat
): Either.Either<unknown, ReadonlyArray<FieldError>> => {
  // Editors on Windows save UTF-8 with a byte-order mark, which JSON.parse refuses.
  const text = raw.startsWith("\uFEFF") ? raw.slice(1) : raw
  if (format === "json") return parseJson(text)
  if (format === "yaml") return parseYaml(text)
  const json = parseJson(text)
  if (Either.isRight(json)) return json
  const yaml = parseYaml(text)
  // Broken text that opens like JSON was meant as JSON: its error says more than YAML's
  // complaints about flow collections.
  return Either.isLeft(yaml) && /^\s*[[{]/.test(text) ? json : yaml
}
