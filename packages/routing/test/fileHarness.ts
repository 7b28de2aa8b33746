import { mkdtemp, rename, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { RoutingSourceHarness } from "@ibex/testkit/contracts"
import { RoutingFileLive, type RoutingFileOptions } from "../src/index.js"

export const tempDir = () => mkdtemp(join(tmpdir(), "ibex-routing-"))

/** Replaces `path` the way editors, `mv` and config tools do: a new file renamed over the old one. */
export const replaceFile = async (path: string, text: string) => {
  const tmp = `${path}.${crypto.randomUUID()}.tmp`
  await writeFile(tmp, text)
  await rename(tmp, path)
}

/** A routing file in a fresh temporary directory, named by format (`routes.json` / `routes.yaml`). */
export const fileHarness = (options: Omit<RoutingFileOptions, "path" | "env"> = {}): RoutingSourceHarness => ({
  start: async ({ text, format, env }) => {
    const dir = await tempDir()
    const path = join(dir, format === "yaml" ? "routes.yaml" : "routes.json")
    await replaceFile(path, text)
    return {
      layer: RoutingFileLive({ ...options, path, env }),
      write: (next) => replaceFile(path, next),
      remove: () => rm(path),
      cleanup: () => rm(dir, { recursive: true, force: true })
    }
  }
})
