import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer, type Server } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeConsoleHandler } from "../server/serveConsole.js"

/** The console's static handler over a fake build: routing, types, caching, CSP, traversal. */

let dir: string
let server: Server
let base: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "ibex-console-"))
  const root = join(dir, "console")
  mkdirSync(join(root, "assets"), { recursive: true })
  writeFileSync(
    join(root, "index.html"),
    '<!doctype html><meta name="csp-nonce" content="__CSP_NONCE__"><script type="module" src="/console/assets/index-abc123.js"></script>'
  )
  writeFileSync(join(root, "assets/index-abc123.js"), "console.log(1)")
  writeFileSync(join(root, "assets/index-abc123.css"), "body{}")
  writeFileSync(join(root, "favicon.svg"), "<svg/>")
  writeFileSync(join(root, ".source-hash"), "secret-ish")
  writeFileSync(join(dir, "outside.txt"), "outside the root")
  const handler = makeConsoleHandler({ root })
  server = createServer((req, res) => {
    if (!handler(req, res)) {
      res.writeHead(418)
      res.end("not mine")
    }
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  const address = server.address()
  base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`
})

afterAll(async () => {
  await new Promise((r) => server.close(r))
  rmSync(dir, { recursive: true, force: true })
})

const get = (path: string, init: RequestInit = {}) => fetch(base + path, { redirect: "manual", ...init })

describe("serveConsole", () => {
  it("leaves other paths to the caller", async () => {
    for (const path of ["/health", "/consoles", "/api/v1/me", "/"]) expect((await get(path)).status).toBe(418)
  })

  it("redirects /console to /console/", async () => {
    const res = await get("/console?x=1")
    expect(res.status).toBe(308)
    expect(res.headers.get("location")).toBe("/console/?x=1")
  })

  it("serves index.html with no-cache, a strict CSP and a fresh nonce on every response", async () => {
    const a = await get("/console/")
    const b = await get("/console/")
    expect(a.status).toBe(200)
    expect(a.headers.get("content-type")).toBe("text/html; charset=utf-8")
    expect(a.headers.get("cache-control")).toBe("no-cache")
    expect(a.headers.get("x-content-type-options")).toBe("nosniff")
    expect(a.headers.get("x-frame-options")).toBe("DENY")
    const csp = a.headers.get("content-security-policy") ?? ""
    expect(csp).toContain("default-src 'none'")
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("frame-ancestors 'none'")
    expect(csp).not.toContain("unsafe-inline")
    expect(csp).not.toContain("unsafe-eval")
    const nonceA = /'nonce-([^']+)'/.exec(csp)?.[1]
    const bodyA = await a.text()
    expect(nonceA).toBeTruthy()
    expect(bodyA).toContain(`content="${nonceA}"`)
    expect(bodyA).not.toContain("__CSP_NONCE__")
    expect(/'nonce-([^']+)'/.exec(b.headers.get("content-security-policy") ?? "")?.[1]).not.toBe(nonceA)
  })

  it("falls back to index.html for client-side routes", async () => {
    for (const path of ["/console/orgs/123/tokens", "/console/sign-in", "/console/index.html"]) {
      const res = await get(path)
      expect(res.status, path).toBe(200)
      expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8")
      expect(await res.text()).toContain("<!doctype html>")
    }
  })

  it("serves hashed assets with their content type and a long immutable cache", async () => {
    const js = await get("/console/assets/index-abc123.js")
    expect(js.status).toBe(200)
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8")
    expect(js.headers.get("cache-control")).toBe("public, max-age=31536000, immutable")
    expect(await js.text()).toBe("console.log(1)")
    const css = await get("/console/assets/index-abc123.css")
    expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8")
    const svg = await get("/console/favicon.svg")
    expect(svg.headers.get("content-type")).toBe("image/svg+xml")
    expect(svg.headers.get("cache-control")).toBe("no-cache")
  })

  it("answers 404 (not index.html) for a missing asset", async () => {
    expect((await get("/console/assets/index-gone.js")).status).toBe(404)
    expect((await get("/console/missing.js")).status).toBe(404)
  })

  it("never leaves the root and never serves dot files", async () => {
    for (const path of [
      "/console/../outside.txt",
      "/console/%2e%2e/outside.txt",
      "/console/assets/%2e%2e%2f%2e%2e%2foutside.txt",
      "/console/..%2foutside.txt",
      "/console/..%5coutside.txt",
      "/console/%00index.html",
      "/console/.source-hash",
      "/console/assets/%2e%2e/.source-hash"
    ]) {
      const res = await get(path)
      const body = await res.text()
      expect(body, path).not.toContain("outside the root")
      expect(body, path).not.toContain("secret-ish")
      expect([400, 404, 418], path).toContain(res.status)
    }
  })

  it("allows only GET and HEAD", async () => {
    const post = await get("/console/", { method: "POST", body: "x" })
    expect(post.status).toBe(405)
    expect(post.headers.get("allow")).toBe("GET, HEAD")
    const head = await get("/console/assets/index-abc123.js", { method: "HEAD" })
    expect(head.status).toBe(200)
    expect(await head.text()).toBe("")
  })

  it("says the console is not built when index.html is missing", async () => {
    const empty = mkdtempSync(join(tmpdir(), "ibex-console-empty-"))
    const handler = makeConsoleHandler({ root: empty })
    const s = createServer((req, res) => void handler(req, res))
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r))
    const address = s.address()
    const res = await fetch(`http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/console/`)
    expect(res.status).toBe(503)
    expect(await res.text()).toContain("npm run build")
    await new Promise((r) => s.close(r))
    rmSync(empty, { recursive: true, force: true })
  })
})
