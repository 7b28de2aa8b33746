/**
 * A server-sent events parser (WHATWG HTML, "Parsing an event stream"), for provider streams:
 * Anthropic's named events and OpenAI's unnamed `data:` lines alike.
 *
 * It takes already-decoded text (feed it from a streaming `TextDecoder`, which keeps UTF-8
 * sequences split across network chunks intact) and returns the events completed by each
 * piece, so an event, a line, or a CRLF pair may be split anywhere between two pushes.
 *
 * Per the spec: lines end with CRLF, LF or a lone CR; a leading BOM is skipped; lines starting
 * with `:` are comments; `field: value` loses one space after the colon; several `data` lines
 * join with LF; an event is dispatched at a blank line, only if it has data, with type
 * "message" when it named none; `id` and `retry` are read past (no consumer of ours reconnects).
 *
 * Every byte of every proxied stream goes through `push`, so it scans with `indexOf` (native)
 * instead of per character, keeps only the unfinished line between pushes, and allocates
 * nothing per line beyond the slices it hands out.
 */

export interface SseEvent {
  readonly event: string
  readonly data: string
}

/**
 * An event (or a line of one) grew past the parser's bound: an upstream sending one endless
 * line would otherwise be buffered whole, however long it keeps sending.
 */
export class SseEventTooLarge extends Error {
  readonly _tag = "SseEventTooLarge"
}

export interface SseParser {
  /**
   * The events completed by this piece of the stream, in order. Past the bound, the events before
   * the one too large are still given; the next push (or the end) throws `SseEventTooLarge`.
   */
  readonly push: (text: string) => Array<SseEvent>
  /**
   * The stream ended. Always empty: the spec discards an event not closed by a blank line (a
   * cut connection must not deliver a half event as if whole). Call it anyway, so a parser that
   * one day needs a final flush does not need its callers changed.
   */
  readonly end: () => Array<SseEvent>
}

const LF = "\n"
const CR = "\r"
const COLON = 58
const SPACE = 32
const BOM = "\uFEFF"

/** Far above any chunk a provider streams (a few KB); a whole answer is bounded apart (16 MiB). */
export const DEFAULT_MAX_SSE_EVENT_CHARS = 4 * 1024 * 1024

export const makeSseParser = (maxEventChars: number = DEFAULT_MAX_SSE_EVENT_CHARS): SseParser => {
  /** The start of a line whose end has not arrived yet. */
  let pending = ""
  /** An event outgrew the bound: every push and the end from now on throw `SseEventTooLarge`. */
  let tooLarge = false
  /** The previous push ended in CR: an LF at the start of this one belongs to it. */
  let skipLeadingLf = false
  let atStreamStart = true
  let eventType = ""
  let data = ""
  let hasData = false

  const processLine = (line: string, out: Array<SseEvent>): void => {
    if (line.length === 0) {
      if (hasData) out.push({ event: eventType === "" ? "message" : eventType, data })
      eventType = ""
      data = ""
      hasData = false
      return
    }
    if (line.charCodeAt(0) === COLON) return
    const colon = line.indexOf(":")
    // The field name is compared in place (no slice): only "data" and "event" matter.
    const nameLength = colon === -1 ? line.length : colon
    const value = colon === -1 ? "" : line.slice(line.charCodeAt(colon + 1) === SPACE ? colon + 2 : colon + 1)
    if (nameLength === 4 && line.startsWith("data")) {
      data = hasData ? `${data}\n${value}` : value
      hasData = true
      if (data.length > maxEventChars) tooLarge = true
    } else if (nameLength === 5 && line.startsWith("event")) {
      eventType = value
    }
  }

  const push = (text: string): Array<SseEvent> => {
    if (tooLarge) throw new SseEventTooLarge()
    const out: Array<SseEvent> = []
    let start = 0
    if (atStreamStart && text.length > 0) {
      atStreamStart = false
      if (text.startsWith(BOM)) start = 1
    }
    if (skipLeadingLf && text.length > start) {
      skipLeadingLf = false
      if (text.charCodeAt(start) === 10) start += 1
    }
    const length = text.length
    // Next CR and LF positions; -1 once there are none left, so neither is searched for twice.
    let nextCr = text.indexOf(CR, start)
    let nextLf = text.indexOf(LF, start)
    while (start < length) {
      if (nextCr !== -1 && nextCr < start) nextCr = text.indexOf(CR, start)
      if (nextLf !== -1 && nextLf < start) nextLf = text.indexOf(LF, start)
      let end: number
      let next: number
      if (nextCr !== -1 && (nextLf === -1 || nextCr < nextLf)) {
        end = nextCr
        if (nextCr + 1 === length) {
          // The LF of a CRLF may be the first character of the next push.
          skipLeadingLf = true
          next = length
        } else {
          next = text.charCodeAt(nextCr + 1) === 10 ? nextCr + 2 : nextCr + 1
        }
      } else if (nextLf !== -1) {
        end = nextLf
        next = nextLf + 1
      } else {
        pending = pending === "" ? text.slice(start) : pending + text.slice(start)
        if (pending.length > maxEventChars) tooLarge = true
        return out
      }
      const piece = text.slice(start, end)
      if (pending === "") {
        processLine(piece, out)
      } else {
        processLine(pending + piece, out)
        pending = ""
      }
      start = next
      // The events completed before the one that grew too large are given; the next push fails.
      if (tooLarge) return out
    }
    return out
  }

  return {
    push,
    end: () => {
      if (tooLarge) throw new SseEventTooLarge()
      return []
    }
  }
}
