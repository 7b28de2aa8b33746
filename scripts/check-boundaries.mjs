#!/usr/bin/env node
// Fails the build when a package imports across the layering of DESIGN.md:
//  - packages/domain imports nothing but `effect` (and its own relative files);
//  - an adapter package never imports another adapter package;
//  - no package under packages/ imports an app.
// Tests count too: a test of an adapter may import domain and testkit, nothing else of ours.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative } from "node:path"

const root = new URL("..", import.meta.url).pathname
const adapters = [
  "persistence-pg",
  "ratelimit-redis",
  "auth-adapter-grpc",
  "proxy-adapter-http",
  "providers",
  "routing"
]
const importRe =
  /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|^\s*import\s*["']([^"']+)["']/gm

const walk = (dir) =>
  !existsSync(dir)
    ? []
    : readdirSync(dir).flatMap((name) => {
        const path = join(dir, name)
        if (name === "node_modules" || name === "dist-types" || name === "gen") return []
        return statSync(path).isDirectory() ? walk(path) : /\.(ts|mts|js|mjs)$/.test(name) ? [path] : []
      })

const specifiers = (file) => {
  const text = readFileSync(file, "utf8")
  return [...text.matchAll(importRe)].map((m) => m[1] ?? m[2] ?? m[3]).filter(Boolean)
}

const violations = []
const check = (pkg, allow, sub = "") => {
  const dir = join(root, "packages", pkg, sub)
  for (const file of walk(dir)) {
    for (const spec of specifiers(file)) {
      const reason = allow(spec, file)
      if (reason) violations.push(`${relative(root, file)}: imports "${spec}" (${reason})`)
    }
  }
}

check(
  "domain",
  (spec) =>
    spec.startsWith(".") || spec === "effect" || spec.startsWith("effect/")
      ? null
      : "packages/domain may import only effect",
  "src"
)
check(
  "domain",
  (spec) => (spec.startsWith("@ibex/") ? "domain tests exercise domain alone; contract suites live in testkit" : null),
  "test"
)
for (const pkg of adapters) {
  check(pkg, (spec) => {
    const other = adapters.find((a) => a !== pkg && spec === `@ibex/${a}`)
    if (other) return `adapter ${pkg} must not import adapter ${other}`
    if (
      spec.startsWith("@ibex/") &&
      !["@ibex/domain", "@ibex/auth-core", "@ibex/testkit"].includes(spec.split("/").slice(0, 2).join("/"))
    )
      return `adapter ${pkg} may import only @ibex/domain and @ibex/auth-core (and @ibex/testkit in tests)`
    return null
  })
}
// The mock upstream is a standalone dev server (the embedded default serves it): node only.
check(
  "mock-upstream",
  (spec) => (spec.startsWith("@ibex/") ? "the mock upstream imports nothing of ours" : null),
  "src"
)
check(
  "auth-core",
  (spec) =>
    spec.startsWith(".") || spec === "effect" || spec.startsWith("effect/") || spec === "@ibex/domain"
      ? null
      : "packages/auth-core may import only effect and @ibex/domain (it is transport-free)",
  "src"
)
check("testkit", (spec) =>
  spec.startsWith("@ibex/") && !["@ibex/domain", "@ibex/auth-core", "@ibex/mock-upstream"].includes(spec)
    ? "testkit may import only @ibex/domain, @ibex/auth-core and @ibex/mock-upstream of ours"
    : null
)

// Production code (apps' and packages' src) never imports the test kit: test tools would ship.
const appsDir = join(root, "apps")
for (const app of existsSync(appsDir) ? readdirSync(appsDir) : []) {
  for (const file of walk(join(appsDir, app, "src"))) {
    for (const spec of specifiers(file)) {
      if (spec === "@ibex/testkit" || spec.startsWith("@ibex/testkit/"))
        violations.push(`${relative(root, file)}: imports "${spec}" (production code never imports the test kit)`)
    }
  }
}
for (const pkg of readdirSync(join(root, "packages"))) {
  if (pkg === "testkit") continue
  for (const file of walk(join(root, "packages", pkg, "src"))) {
    for (const spec of specifiers(file)) {
      if (spec === "@ibex/testkit" || spec.startsWith("@ibex/testkit/"))
        violations.push(`${relative(root, file)}: imports "${spec}" (production code never imports the test kit)`)
    }
  }
}

if (violations.length > 0) {
  console.error(`Layering violations (${violations.length}):\n  ${violations.join("\n  ")}`)
  process.exit(1)
}
console.log("boundaries: ok")
