import type { IncomingMessage } from "node:http"
import { MalformedJson, PayloadTooLarge } from "@ibex/domain"
import { Data, Effect, Either } from "effect"
import { headerValue } from "../headers.js"

/** The client went away mid-body: nothing to answer. */
export class ClientGone extends Data.TaggedError("ClientGone") {}

/** Refused on the headers alone: a declared body above the limit is never read. */
export const declaredTooLarge = (req: IncomingMessage, limit: number): boolean => {
  const declared = headerValue(req.headers, "content-length")
  return declared !== undefined && Number(declared) > limit
}

/**
 * The most a refusal sent before the body was read lets Node discard to keep the connection: a
 * chat request's size, far below what a slow sender could hold a connection with for long.
 */
export const DRAINABLE_UNREAD_BODY_BYTES = 64 * 1024

/**
 * Whether a refusal sent before the body was read can keep the connection alive. Closing costs
 * the client a new connection (a rate-limited SDK retrying reconnects every time, and a client
 * flooded with 429s runs out of ports in TIME_WAIT); keeping it makes Node discard the unread
 * body before the next request. So it is kept when there is no body or a small declared one, and
 * closed when the body is undeclared (chunked) or large: a sender refused on its headers must not
 * make the proxy drain an unbounded body.
 */
export const keepsConnectionUnread = (req: IncomingMessage): boolean => {
  if (req.complete) return true
  if (req.headers["transfer-encoding"] !== undefined) return false
  const declared = headerValue(req.headers, "content-length")
  // HTTP/1.1: a request with neither header has no body.
  if (declared === undefined) return true
  const bytes = Number(declared)
  return Number.isSafeInteger(bytes) && bytes >= 0 && bytes <= DRAINABLE_UNREAD_BODY_BYTES
}

/**
 * The whole body, up to `limit` bytes (a chunked body that grows past it stops being read),
 * through a callback; returns a canceller. A body declared above the limit is the caller's to
 * refuse first, on the headers (`declaredTooLarge`).
 */
export const readBodyNow = (
  req: IncomingMessage,
  limit: number,
  done: (result: Either.Either<Buffer, PayloadTooLarge | ClientGone>) => void
): (() => void) => {
  // Gone while the request waited (for the limiter, say): no event will come any more.
  if (req.destroyed) {
    done(Either.left(new ClientGone()))
    return () => {}
  }
  const chunks: Array<Buffer> = []
  let size = 0
  const cleanup = () => {
    req.off("data", onData)
    req.off("end", onEnd)
    req.off("error", onGone)
    req.off("aborted", onGone)
    req.off("close", onGone)
  }
  const onData = (chunk: Buffer) => {
    size += chunk.length
    if (size > limit) {
      cleanup()
      req.pause()
      done(Either.left(new PayloadTooLarge({ limitBytes: limit })))
    } else chunks.push(chunk)
  }
  const onEnd = () => {
    cleanup()
    done(Either.right(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size)))
  }
  const onGone = () => {
    cleanup()
    done(Either.left(new ClientGone()))
  }
  req.on("data", onData)
  req.on("end", onEnd)
  req.on("error", onGone)
  req.on("aborted", onGone)
  // Closed before its end: the client went away without an error on this stream.
  req.on("close", onGone)
  return cleanup
}

export const readBody = (req: IncomingMessage, limit: number): Effect.Effect<Buffer, PayloadTooLarge | ClientGone> =>
  Effect.async<Buffer, PayloadTooLarge | ClientGone>((resume) => Effect.sync(readBodyNow(req, limit, resume)))

const utf8 = new TextDecoder("utf-8", { fatal: true })

export const parseJson = (body: Buffer): Either.Either<unknown, MalformedJson> => {
  try {
    return Either.right(JSON.parse(utf8.decode(body)))
  } catch {
    return Either.left(new MalformedJson())
  }
}

export const isJsonMediaType = (contentType: string | undefined): boolean => {
  if (contentType === undefined) return false
  const semi = contentType.indexOf(";")
  const media = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase()
  return media === "application/json"
}
