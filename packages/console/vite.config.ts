import { fileURLToPath } from "node:url"
import react from "@vitejs/plugin-react"
import { defineConfig } from "vite"

/** The console is served by the auth admin listener under /console/ (serveConsole.ts). */
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/console/",
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL("../../dist/console", import.meta.url)),
    emptyOutDir: true,
    assetsDir: "assets",
    // No inline scripts or data: modules: the CSP allows only 'self' scripts.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 2000,
    sourcemap: false
  },
  server: {
    // `npm run dev -w @ibex/console`: the API and sign-in go to a running auth admin listener.
    proxy: { "/v1": "http://127.0.0.1:9092" }
  }
})
