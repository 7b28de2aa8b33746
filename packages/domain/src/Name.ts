import { Effect, Either } from "effect"
import { ValidationFailed } from "./errors.js"
import { FieldError } from "./FieldError.js"

/**
 * The rule every stored name follows: org, agent, token and platform-admin credential names.
 * Trimmed, 1 to `max` characters, and no control characters (issue 14, item 9): names are printed
 * by the CLI and shown in consoles, where C0 (U+0000–U+001F), DEL (U+007F) and C1 (U+0080–U+009F)
 * controls can drive a terminal (ESC sequences: clear the screen, retitle the window, hide text)
 * and the bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) can make
 * a name read as something else ("invoice", U+202E, "fdp.exe" shows as "invoiceexe.pdf"). Other
 * scripts, accents and emoji pass.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is this rule's purpose
export const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u
const CONTROL_CHARACTERS_GLOBAL = new RegExp(CONTROL_CHARACTERS.source, "gu")

export const hasControlCharacters = (text: string): boolean => CONTROL_CHARACTERS.test(text)

/** `text` with each control character shown as `\u{…}`: how anything printed for a person shows stored data. */
export const escapeControlCharacters = (text: string): string =>
  text.replace(CONTROL_CHARACTERS_GLOBAL, (c) => `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`)

export const NAME_CONTROL_CHARACTERS_MESSAGE =
  "must not contain control characters (U+0000–U+001F, U+007F–U+009F) or bidirectional controls (U+202A–U+202E, U+2066–U+2069)"

/** The trimmed name, or what is wrong with it (a message for a field error or a usage line). */
export const validateName = (raw: string, max: number): Either.Either<string, string> => {
  const name = raw.trim()
  if (name.length < 1 || name.length > max) return Either.left(`must be 1 to ${max} characters`)
  if (hasControlCharacters(name)) return Either.left(NAME_CONTROL_CHARACTERS_MESSAGE)
  return Either.right(name)
}

/** `validateName` as a use case step: a ValidationFailed naming `field`. */
export const checkName = (field: string, raw: string, max: number): Effect.Effect<string, ValidationFailed> =>
  Either.match(validateName(raw, max), {
    onLeft: (message) => Effect.fail(new ValidationFailed({ fieldErrors: [new FieldError({ field, message })] })),
    onRight: Effect.succeed
  })
