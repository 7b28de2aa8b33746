import { randomBytes } from "node:crypto"
import { readFileSync, statSync } from "node:fs"
import type { IncomingMessage, ServerResponse } from "node:http"
import { extname, join, resolve, sep } from "node:path"
import { fileURLToPath } from "node:url"

/**
 * Serves the web console's build (Vite's output) under /console/ on the auth admin listener.
 *
 * - `/console` redirects to `/console/`; `/console/` and every path that is not a file (a
 *   client-side route such as `/console/orgs/<id>/tokens`) answer index.html (SPA fallback).
 *   A missing file under `/console/assets/` is a 404, not index.html (a stale hashed asset must
 *   not be parsed as HTML).
 * - index.html: `Cache-Control: no-cache`, a fresh CSP nonce per response (Mantine's <style>
 *   tags carry it; no other inline style or script is allowed).
 * - Hashed assets (`/console/assets/*`): `Cache-Control: public, max-age=31536000, immutable`.
 * - Only GET and HEAD; the decoded path is resolved and must stay inside the root (no `..`, no
 *   encoded separators, no NUL); dot files are never served.
 *
 * Returns false when the request is not for /console, so the caller routes it elsewhere.
 */
export interface ConsoleHandlerOptions {
  /** The directory holding index.html and assets/ (Vite's outDir). */
  readonly root: string
  /** URL prefix without the trailing slash. Default "/console". */
  readonly base?: string
}

export type ConsoleHandler = (req: IncomingMessage, res: ServerResponse) => boolean

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".woff": "font/woff",
  ".txt": "text/plain; charset=utf-8"
}

const NONCE_PLACEHOLDER = "__CSP_NONCE__"

export const contentSecurityPolicy = (nonce: string): string =>
  [
    "default-src 'none'",
    "script-src 'self'",
    `style-src 'self' 'nonce-${nonce}'`,
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'"
  ].join("; ")

const SECURITY_HEADERS = {
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin"
}

const plain = (res: ServerResponse, status: number, body: string, extra: Record<string, string> = {}) => {
  res.writeHead(status, {
    "Content-Type": "text/plain; charset=utf-8",
    "Content-Length": String(Buffer.byteLength(body)),
    "Cache-Control": "no-store",
    ...SECURITY_HEADERS,
    ...extra
  })
  res.end(body)
}

const isFile = (path: string): boolean => {
  try {
    return statSync(path).isFile()
  } catch {
    return false
  }
}

export const makeConsoleHandler = (options: ConsoleHandlerOptions): ConsoleHandler => {
  const root = resolve(options.root)
  const base = options.base ?? "/console"
  const indexPath = join(root, "index.html")

  const sendIndex = (req: IncomingMessage, res: ServerResponse) => {
    let html: string
    try {
      html = readFileSync(indexPath, "utf8")
    } catch {
      plain(
        res,
        503,
        "The console is not built. Run `npm run build` (or `npm start`), which builds it into dist/console.\n"
      )
      return
    }
    const nonce = randomBytes(16).toString("base64")
    const body = html.split(NONCE_PLACEHOLDER).join(nonce)
    res.writeHead(200, {
      "Content-Type": CONTENT_TYPES[".html"] as string,
      "Content-Length": String(Buffer.byteLength(body)),
      "Cache-Control": "no-cache",
      "Content-Security-Policy": contentSecurityPolicy(nonce),
      ...SECURITY_HEADERS
    })
    res.end(req.method === "HEAD" ? undefined : body)
  }

  return (req, res) => {
    const url = req.url ?? "/"
    const q = url.indexOf("?")
    const rawPath = q === -1 ? url : url.slice(0, q)
    if (rawPath !== base && !rawPath.startsWith(`${base}/`)) return false
    if (req.method !== "GET" && req.method !== "HEAD") {
      plain(res, 405, "Method Not Allowed\n", { Allow: "GET, HEAD" })
      return true
    }
    if (rawPath === base) {
      res.writeHead(308, { Location: `${base}/${q === -1 ? "" : url.slice(q)}`, "Content-Length": "0" })
      res.end()
      return true
    }
    let rel: string
    try {
      rel = decodeURIComponent(rawPath.slice(base.length + 1))
    } catch {
      plain(res, 400, "Bad Request\n")
      return true
    }
    // No NUL, no backslash, no `..` or dot-file segment, whatever the encoding was.
    const segments = rel.split("/")
    if (rel.includes("\0") || rel.includes("\\") || segments.some((s) => s.startsWith("."))) {
      plain(res, 404, "Not Found\n")
      return true
    }
    if (rel === "" || rel === "index.html") {
      sendIndex(req, res)
      return true
    }
    const file = resolve(root, rel)
    if (!file.startsWith(root + sep)) {
      plain(res, 404, "Not Found\n")
      return true
    }
    if (!isFile(file)) {
      // Client-side routes fall back to index.html; a missing asset is a plain 404.
      if (segments[0] === "assets" || extname(rel) !== "") plain(res, 404, "Not Found\n")
      else sendIndex(req, res)
      return true
    }
    let body: Buffer
    try {
      body = readFileSync(file)
    } catch {
      plain(res, 404, "Not Found\n")
      return true
    }
    const hashed = segments[0] === "assets"
    res.writeHead(200, {
      "Content-Type": CONTENT_TYPES[extname(file).toLowerCase()] ?? "application/octet-stream",
      "Content-Length": String(body.length),
      "Cache-Control": hashed ? "public, max-age=31536000, immutable" : "no-cache",
      ...SECURITY_HEADERS
    })
    res.end(req.method === "HEAD" ? undefined : body)
    return true
  }
}

/**
 * The build's location: dist/console at the repository root. This file sits three folders
 * below the root, as does the bundle that includes it (dist/apps/<app>/main.mjs), so the same
 * relative URL resolves from both. IBEX_CONSOLE_DIR overrides it.
 */
export const defaultConsoleRoot = (): string =>
  process.env.IBEX_CONSOLE_DIR ?? fileURLToPath(new URL("../../../dist/console/", import.meta.url))

let defaultHandler: ConsoleHandler | undefined

/** The handler over the default root, for the auth admin listener's one-line mount. */
export const serveConsole: ConsoleHandler = (req, res) => {
  defaultHandler ??= makeConsoleHandler({ root: defaultConsoleRoot() })
  return defaultHandler(req, res)
}
