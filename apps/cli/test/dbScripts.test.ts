import { execFile } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { SecretHasherArgon2 } from "@ibex/auth-adapter-grpc"
import { validateToken } from "@ibex/auth-core"
import { Permissions } from "@ibex/domain"
import { appUrlFromOwnerUrl, loadMigrations, PersistenceLive, startEmbedded } from "@ibex/persistence-pg"
import { escapeIdentifier, withClient } from "@ibex/testkit/provision"
import { Effect, Redacted } from "effect"
import { describe, expect, it } from "vitest"

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))
const run = promisify(execFile)
const npm = (script: string, env: Record<string, string | undefined>, args: ReadonlyArray<string> = []) =>
  run("npm", ["run", "-s", script, ...(args.length ? ["--", ...args] : [])], {
    cwd: repoRoot,
    env: env as NodeJS.ProcessEnv,
    timeout: 120_000
  }).then((r) => r.stdout)

/** An empty database on DATABASE_URL's server, or an empty embedded data folder. */
const emptyTarget = async () => {
  const admin = process.env.DATABASE_URL
  if (admin !== undefined) {
    const name = `ibex_test_scripts_${process.pid}_${randomBytes(4).toString("hex")}`
    await withClient(admin, (c) => c.query(`CREATE DATABASE ${escapeIdentifier(name)}`))
    const url = new URL(admin)
    url.pathname = `/${name}`
    return {
      kind: "postgres" as const,
      env: { DATABASE_URL: url.toString(), DATABASE_APP_URL: undefined },
      close: () => withClient(admin, (c) => c.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(name)} WITH (FORCE)`))
    }
  }
  const dir = mkdtempSync(join(tmpdir(), "ibex-scripts-"))
  return {
    kind: "embedded" as const,
    env: { DATABASE_URL: undefined, IBEX_DATA_DIR: join(dir, "pgdata") },
    close: async () => rmSync(dir, { recursive: true, force: true })
  }
}

describe("npm run db:migrate / db:seed, as a user runs them", () => {
  it(
    "twice each on a fresh database; the printed PAT validates with Argon2id through the domain use case",
    { timeout: 300_000 },
    async () => {
      const target = await emptyTarget()
      const env = { ...process.env, ...target.env }
      try {
        expect(await npm("db:migrate", env)).toMatch(new RegExp(`Applied ${loadMigrations().length} migration`))
        expect(await npm("db:migrate", env)).toMatch(/Up to date/)
        const first = await npm("db:seed", env)
        expect(first).toMatch(/Seeded/)
        const pat = /^\s+(ibex_pat_\S+)$/m.exec(first)?.[1] ?? ""
        expect(pat).toMatch(/^ibex_pat_/)
        const second = await npm("db:seed", env)
        expect(second).toMatch(/Already seeded/)
        expect(second).toMatch(/npm run db:seed -- --new-token/)
        expect(second).not.toMatch(/ibex_pat_[0-9a-f-]{36}_/)
        const check = validateToken(Redacted.make(pat)).pipe(Effect.provide(SecretHasherArgon2()))
        const principal =
          target.kind === "postgres"
            ? await Effect.runPromise(
                check.pipe(
                  Effect.provide(
                    PersistenceLive({ url: Redacted.make(appUrlFromOwnerUrl(env.DATABASE_URL as string)) })
                  )
                )
              )
            : await Effect.runPromise(
                Effect.scoped(
                  Effect.flatMap(startEmbedded({ dataDir: env.IBEX_DATA_DIR }), (embedded) =>
                    check.pipe(Effect.provide(PersistenceLive(embedded.app)))
                  )
                )
              )
        expect(principal.permissions).toBe(Permissions.all)
      } finally {
        await target.close()
      }
    }
  )
})
