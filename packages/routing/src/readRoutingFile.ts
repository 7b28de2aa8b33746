import { createHash } from "node:crypto"
import { readFile } from "node:fs/promises"
import { configError } from "@ibex/domain"
import { Effect, Either } from "effect"
import type { Candidate } from "./loader.js"
import { parseRoutingText, type TextFormat } from "./parse.js"

/**
 * One read of the routing file. `fingerprint` identifies what was read (the content's hash, or
 * the error code when unreadable) so the watcher can tell a real change from a stray event or
 * a poll, and count a file that stays broken as one rejected load, not one per poll.
 */
export interface FileRead {
  readonly fingerprint: string
  readonly candidate: () => Candidate
}

const errorCode = (e: unknown): string =>
  typeof e === "object" && e !== null && "code" in e && typeof e.code === "string" ? e.code : "EUNKNOWN"

export const readRoutingFile = (path: string, format: TextFormat): Effect.Effect<FileRead> =>
  Effect.tryPromise(() => readFile(path, "utf8")).pipe(
    Effect.map(
      (text): FileRead => ({
        // The content, not mtime/size: mtime granularity is a second on some filesystems, and
        // a routing file is small enough that hashing it on every poll costs nothing.
        fingerprint: `text:${createHash("sha256").update(text).digest("hex")}`,
        candidate: () => parseRoutingText(text, format)
      })
    ),
    Effect.catchAll((e) => {
      const code = errorCode(e.error)
      return Effect.succeed<FileRead>({
        fingerprint: `error:${code}`,
        candidate: () => Either.left([configError("config", `cannot read ${path}: ${code}`)])
      })
    })
  )
