import { randomBytes } from "node:crypto"
import { readFileSync, renameSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import type { MigrationSet, ProvisionedDatabase } from "./provisionDatabase.js"

/**
 * PGlite for tests: an in-memory instance served on a loopback port, started from a migrated
 * data folder tarball cached in the OS temp directory per migration set (migrating from empty
 * happens once per machine and migration set). Every session there is the superuser, so the
 * app connection assumes the app role per transaction (`appRole`).
 */

const serve = async (db: PGlite) => {
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 32 })
  await server.start()
  return { server, url: `postgres://postgres@${server.getServerConn()}/postgres` }
}

const templateTarball = async (migrations: MigrationSet): Promise<Blob> => {
  const path = join(tmpdir(), `ibex-pglite-template-${migrations.key.replace(/[^a-z0-9]/gi, "")}.tar.gz`)
  try {
    return new Blob([readFileSync(path)])
  } catch {
    // Not built yet on this machine for this migration set.
  }
  const db = await PGlite.create()
  try {
    const { server, url } = await serve(db)
    try {
      await migrations.migrate(url)
    } finally {
      await server.stop()
    }
    const dump = await db.dumpDataDir("gzip")
    const bytes = Buffer.from(await dump.arrayBuffer())
    // Write then rename, so a concurrent reader never sees half a file.
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}`
    writeFileSync(tmp, bytes)
    renameSync(tmp, path)
    return new Blob([bytes])
  } finally {
    await db.close()
  }
}

export const provisionPglite = async (migrations: MigrationSet, appRole: string): Promise<ProvisionedDatabase> => {
  const started = performance.now()
  const db = await PGlite.create({ loadDataDir: await templateTarball(migrations) })
  const { server, url } = await serve(db)
  let dropped = false
  return {
    kind: "pglite",
    name: `pglite:${server.getServerConn()}`,
    url,
    appUrl: url,
    appRole,
    provisionMs: Math.round(performance.now() - started),
    drop: async () => {
      if (dropped) return
      dropped = true
      await server.stop().catch(() => undefined)
      await db.close().catch(() => undefined)
    }
  }
}
