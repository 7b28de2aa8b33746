import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http"

export const sendJson = (
  res: ServerResponse,
  status: number,
  headers: Readonly<Record<string, string>>,
  body: unknown
): void => {
  const text = JSON.stringify(body)
  // A known length instead of chunked encoding: one write, and the client can reuse the socket at once.
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(text))
  })
  res.end(text)
}

export const sseHeaders = (headers: Readonly<Record<string, string>>): Record<string, string> => ({
  ...headers,
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache"
})

/** Node lowercases names already; repeated headers become one comma-joined value. */
export const flattenHeaders = (headers: IncomingHttpHeaders): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value
  }
  return out
}

export const splitUrl = (url: string): { path: string; query: Record<string, string> } => {
  const q = url.indexOf("?")
  if (q < 0) return { path: url, query: {} }
  return { path: url.slice(0, q), query: Object.fromEntries(new URLSearchParams(url.slice(q + 1))) }
}

/**
 * Reads the whole body as text; `undefined` when it exceeds `limit` (the rest is still read and
 * discarded, so the connection stays usable for the error answer).
 */
export const readBody = (req: IncomingMessage, limit: number, done: (text: string | undefined) => void): void => {
  const chunks: Buffer[] = []
  let size = 0
  req.on("data", (chunk: Buffer) => {
    size += chunk.length
    if (size <= limit) chunks.push(chunk)
  })
  req.on("end", () => {
    if (size > limit) return done(undefined)
    done(chunks.length === 1 ? (chunks[0] as Buffer).toString("utf8") : Buffer.concat(chunks, size).toString("utf8"))
  })
  // A client that resets mid-upload is recorded through the response's 'close'; nothing to do here.
  req.on("error", () => {})
}
