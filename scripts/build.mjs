#!/usr/bin/env node
// Compiles the production entry points to plain JavaScript (one ESM bundle each), so the services
// run on node without tsx's loader: no transpiling at start, no loader hooks on the hot path, no
// source-map formatting of stack traces. Workspace packages (@ibex/*) are bundled from their
// TypeScript sources; every npm dependency stays external and is loaded from node_modules.
//
// Bundles go to dist/apps/<app>/main.mjs: three folders below the repository root, like the
// sources they come from (packages/<pkg>/src/<file>.ts), so the paths the code resolves relative
// to its own file (migrations/, proto/, .ibex/) resolve the same from the bundle.
import { build } from "esbuild"

const root = new URL("..", import.meta.url).pathname

const externalNpm = {
  name: "external-npm",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith("@ibex/") ? undefined : { path: args.path, external: true }
    )
  }
}

await build({
  absWorkingDir: root,
  entryPoints: {
    "apps/auth/main": "apps/auth/src/main.ts",
    "apps/proxy/main": "apps/proxy/src/main.ts",
    "apps/stack/main": "apps/stack/src/main.ts",
    // `--bench`: the edge with in-process fakes, compiled the same way (npm run bench's "edge only").
    ...(process.argv.includes("--bench")
      ? { "bench/edge-fakes": "bench/edge-fakes.ts", "bench/mock-upstream": "bench/mock-upstream.ts" }
      : {})
  },
  outdir: "dist",
  outExtension: { ".js": ".mjs" },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  plugins: [externalNpm],
  logLevel: "warning"
})

// The web console (served under /console/ by the auth admin listener), skipped when unchanged.
if (!process.argv.includes("--bench")) {
  const { buildConsole } = await import("./build-console.mjs")
  await buildConsole()
}
