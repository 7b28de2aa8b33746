#!/usr/bin/env node
// Builds the web console (packages/console, React + Vite + Mantine) into dist/console, unless
// the sources are unchanged since the last build: a SHA-256 over the console's sources, its
// config and the installed versions of its build dependencies is kept in
// dist/console/.source-hash, so `npm start` pays for Vite only after a change. `--force`
// rebuilds anyway.
import { createHash } from "node:crypto"
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { join, relative } from "node:path"

const root = new URL("..", import.meta.url).pathname
const pkg = join(root, "packages/console")
const out = join(root, "dist/console")
const stamp = join(out, ".source-hash")

const walk = (dir) =>
  readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name)
      return statSync(path).isDirectory() ? walk(path) : [path]
    })

// Bump when the way of building changes (a rebuild is due although no source did).
const RECIPE = "2: production mode whatever NODE_ENV says"

const sourceHash = () => {
  const h = createHash("sha256")
  h.update(RECIPE)
  const files = [
    ...walk(join(pkg, "src")),
    ...walk(join(pkg, "public")),
    join(pkg, "index.html"),
    join(pkg, "vite.config.ts"),
    join(pkg, "package.json")
  ]
  for (const file of files) {
    h.update(relative(root, file))
    h.update("\0")
    h.update(readFileSync(file))
    h.update("\0")
  }
  // The installed versions of what the build uses (a dependency upgrade rebuilds).
  for (const dep of [
    "get-nonce",
    "vite",
    "@vitejs/plugin-react",
    "react",
    "react-dom",
    "@mantine/core",
    "@mantine/charts"
  ]) {
    const manifest = join(root, "node_modules", dep, "package.json")
    h.update(`${dep}@${existsSync(manifest) ? JSON.parse(readFileSync(manifest, "utf8")).version : "missing"}\n`)
  }
  return h.digest("hex")
}

export const buildConsole = async ({ force = false } = {}) => {
  const hash = sourceHash()
  if (!force && existsSync(join(out, "index.html")) && existsSync(stamp) && readFileSync(stamp, "utf8") === hash)
    return { built: false }
  const started = Date.now()
  const { build } = await import("vite")
  // React's production build, also when the caller runs under NODE_ENV=test (vitest's global setup).
  const nodeEnv = process.env.NODE_ENV
  process.env.NODE_ENV = "production"
  try {
    await build({ configFile: join(pkg, "vite.config.ts"), mode: "production", logLevel: "warn" })
  } finally {
    if (nodeEnv === undefined) delete process.env.NODE_ENV
    else process.env.NODE_ENV = nodeEnv
  }
  writeFileSync(stamp, hash)
  console.log(`console: built dist/console in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  return { built: true }
}

if (import.meta.url === `file://${process.argv[1]}`) await buildConsole({ force: process.argv.includes("--force") })
