import { randomBytes } from "node:crypto"
import type { IncomingMessage, ServerResponse } from "node:http"
import {
  CsrfFailed,
  type DomainError,
  MalformedJson,
  PayloadTooLarge,
  parseInboundRequestId,
  toEnvelope,
  UnsupportedMediaType,
  uuidv7
} from "@ibex/domain"
import { Effect, Option } from "effect"

export const MAX_BODY_BYTES = 64 * 1024

export const requestIdOf = (req: IncomingMessage): string =>
  Option.getOrElse(parseInboundRequestId(req.headers["x-request-id"] as string | undefined), () =>
    uuidv7(Date.now(), randomBytes(10))
  )

export const sourceOf = (req: IncomingMessage): string => req.socket.remoteAddress ?? "unknown"

export const cookiesOf = (req: IncomingMessage): Map<string, string> => {
  const out = new Map<string, string>()
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const i = part.indexOf("=")
    if (i < 1) continue
    const name = part.slice(0, i).trim()
    if (!out.has(name)) out.set(name, decodeURIComponent(part.slice(i + 1).trim()))
  }
  return out
}

/** Reads a JSON body (64 KiB at most); an empty body is `{}`. */
export const readJson = (
  req: IncomingMessage
): Effect.Effect<unknown, MalformedJson | PayloadTooLarge | UnsupportedMediaType> =>
  Effect.async((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    let done = false
    req.on("data", (chunk: Buffer) => {
      if (done) return
      size += chunk.length
      if (size > MAX_BODY_BYTES) {
        done = true
        resume(Effect.fail(new PayloadTooLarge({ limitBytes: MAX_BODY_BYTES })))
        req.resume()
        return
      }
      chunks.push(chunk)
    })
    req.on("error", () => {
      if (!done) resume(Effect.fail(new MalformedJson()))
      done = true
    })
    req.on("end", () => {
      if (done) return
      done = true
      const text = Buffer.concat(chunks).toString("utf8")
      if (text.trim() === "") return resume(Effect.succeed({}))
      const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase()
      if (type !== "application/json") return resume(Effect.fail(new UnsupportedMediaType()))
      try {
        resume(Effect.succeed(JSON.parse(text) as unknown))
      } catch {
        resume(Effect.fail(new MalformedJson()))
      }
    })
  })

/**
 * Origin check for state-changing requests: an Origin header, when present, must be this
 * listener's own origin (the Host header the request came to). Browsers send Origin on every
 * cross-origin POST, so a forged form or fetch from another site fails here.
 */
export const checkOrigin = (req: IncomingMessage, secure: boolean): Effect.Effect<void, CsrfFailed> => {
  const origin = req.headers.origin
  if (origin === undefined) return Effect.void
  const host = req.headers.host
  const ok = host !== undefined && (origin === `http://${host}` || (secure && origin === `https://${host}`))
  return ok ? Effect.void : Effect.fail(new CsrfFailed())
}

export interface Reply {
  readonly status: number
  readonly body?: unknown
  readonly cookies?: ReadonlyArray<string>
}

const baseHeaders = (requestId: string) => ({
  "Cache-Control": "no-store",
  "X-Content-Type-Options": "nosniff",
  "X-Request-ID": requestId
})

export const sendReply = (res: ServerResponse, requestId: string, reply: Reply) => {
  if (res.headersSent || res.destroyed) return
  const headers: Record<string, string | ReadonlyArray<string>> = baseHeaders(requestId)
  if (reply.cookies !== undefined && reply.cookies.length > 0) headers["Set-Cookie"] = reply.cookies
  if (reply.body === undefined) {
    res.writeHead(reply.status, headers as Record<string, string | Array<string>>)
    res.end()
    return
  }
  const text = JSON.stringify(reply.body)
  res.writeHead(reply.status, {
    ...(headers as Record<string, string | Array<string>>),
    "Content-Type": "application/json",
    "Content-Length": String(Buffer.byteLength(text))
  })
  res.end(text)
}

export const sendDomainError = (
  res: ServerResponse,
  requestId: string,
  error: DomainError,
  cookies: ReadonlyArray<string> = []
) => {
  if (res.headersSent || res.destroyed) return
  const { status, body } = toEnvelope(error, requestId)
  const text = JSON.stringify(body)
  const headers: Record<string, string | Array<string>> = {
    ...baseHeaders(requestId),
    "Content-Type": "application/json",
    "Content-Length": String(Buffer.byteLength(text))
  }
  if (error._tag === "TooManyAttempts")
    headers["Retry-After"] = String(Math.max(1, Math.ceil(error.retryAfterMs / 1000)))
  if (error._tag === "MethodNotAllowed") headers.Allow = error.allowed.join(", ")
  if (error._tag === "StoreUnavailable") headers["Retry-After"] = "1"
  if (cookies.length > 0) headers["Set-Cookie"] = [...cookies]
  res.writeHead(status, headers)
  res.end(text)
}
