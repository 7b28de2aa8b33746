/**
 * `JSON.stringify`'s text for JSON data, for request bodies sent upstream. Node 20's V8 writes a
 * long string character by character (a 4 KB chat body: ~7 µs, three times `JSON.parse` of the
 * same text, and 8 µs of a forwarded request's CPU); here a string that needs no escaping is
 * found by one regular-expression scan and written as is. Anything that is not plain JSON data
 * (a class instance, a `toJSON`, a bigint, nesting past `MAX_DEPTH`) is handed to
 * `JSON.stringify` itself, so the text, and any error, is always what it would have written.
 * The body is re-serialized rather than forwarded as received on purpose: the client's bytes
 * could hold duplicate keys, which the proxy and the provider might read differently.
 */
export const jsonText = (value: object): string => write(value, 0) ?? "null"

/** A quote, a backslash, a control character or any surrogate (a lone one is escaped). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters JSON escapes
const needsEscape = /["\\\u0000-\u001f\ud800-\udfff]/

const MAX_DEPTH = 64

const stringText = (text: string): string => (needsEscape.test(text) ? JSON.stringify(text) : `"${text}"`)

const hasToJson = (value: object): boolean => typeof (value as { toJSON?: unknown }).toJSON === "function"

const isPlainObject = (value: object): boolean => {
  const proto = Object.getPrototypeOf(value)
  return (proto === Object.prototype || proto === null) && !hasToJson(value)
}

/** The value's text, or undefined where JSON omits it (undefined, a function, a symbol). */
const write = (value: unknown, depth: number): string | undefined => {
  switch (typeof value) {
    case "string":
      return stringText(value)
    case "number":
      return Number.isFinite(value) ? String(value) : "null"
    case "boolean":
      return value ? "true" : "false"
    case "undefined":
    case "function":
    case "symbol":
      return undefined
    case "object": {
      if (value === null) return "null"
      if (depth >= MAX_DEPTH) return JSON.stringify(value)
      if (Array.isArray(value)) {
        if (hasToJson(value)) return JSON.stringify(value)
        let out = "["
        for (let i = 0; i < value.length; i++) out += `${i === 0 ? "" : ","}${write(value[i], depth + 1) ?? "null"}`
        return `${out}]`
      }
      if (!isPlainObject(value)) return JSON.stringify(value)
      let out = "{"
      for (const key in value) {
        if (!Object.hasOwn(value, key)) continue
        const member = write((value as Record<string, unknown>)[key], depth + 1)
        if (member !== undefined) out += `${out.length === 1 ? "" : ","}${stringText(key)}:${member}`
      }
      return `${out}}`
    }
    default:
      // A bigint: JSON.stringify's own TypeError.
      return JSON.stringify(value)
  }
}
