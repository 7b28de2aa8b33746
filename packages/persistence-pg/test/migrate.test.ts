import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "@effect/vitest"
import { defaultMigrationsDir, loadMigrations, runMigrations } from "../src/migrate.js"
import { type EmptyDatabase, emptyDatabase } from "./fresh.js"
import { backends, rawClient } from "./provision.js"

const copyMigrations = (): string => {
  const dir = mkdtempSync(join(tmpdir(), "ibex-migrations-"))
  for (const file of loadMigrations())
    writeFileSync(join(dir, file.name), readFileSync(join(defaultMigrationsDir, file.name)))
  return dir
}

for (const backend of backends) {
  describe(`migrations [${backend}]`, () => {
    const opened: Array<EmptyDatabase> = []
    const temp: Array<string> = []
    const fresh = async () => {
      const db = await emptyDatabase(backend)
      opened.push(db)
      return db
    }
    afterEach(async () => {
      for (const db of opened.splice(0)) await db.close()
      for (const dir of temp.splice(0)) rmSync(dir, { recursive: true, force: true })
    })

    it("apply every file once; a second run applies nothing", async () => {
      const db = await fresh()
      const first = await runMigrations(db.url)
      expect(first.applied).toEqual(loadMigrations().map((f) => f.name))
      console.log(`[${backend}] migrate from empty: ${first.durationMs} ms`)
      const second = await runMigrations(db.url)
      expect(second.applied).toEqual([])
      expect(second.alreadyApplied).toBe(first.applied.length)
      const client = await rawClient(db.url)
      const { rows } = await client.query<{ n: string }>("SELECT count(*) AS n FROM ibex_migrations.applied")
      await client.end()
      expect(Number(rows[0]?.n)).toBe(first.applied.length)
    })

    it("two runners at once: one applies, the other finds it done, neither fails", async () => {
      const db = await fresh()
      const [a, b] = await Promise.all([runMigrations(db.url), runMigrations(db.url)])
      const total = loadMigrations().length
      expect(a.applied.length + b.applied.length).toBe(total)
      expect(new Set([...a.applied, ...b.applied]).size).toBe(total)
    })

    // The bookkeeping rules do not depend on the server: checked once, on the default backend.
    // (Registered on that backend only, not skipped on the other: CI refuses any skipped test.)
    const onDefaultBackend = (name: string, test: () => Promise<void>) => {
      if (backend === backends[0]) it(name, test)
    }

    onDefaultBackend("refuses a database whose applied file changed, and one that is ahead of the code", async () => {
      const db = await fresh()
      const dir = copyMigrations()
      temp.push(dir)
      await runMigrations(db.url, { dir })
      const first = loadMigrations(dir)[0]!
      writeFileSync(join(dir, first.name), `${first.sql}\n-- edited after the fact\n`)
      await expect(runMigrations(db.url, { dir })).rejects.toMatchObject({ _tag: "MigrationFailed" })
      writeFileSync(join(dir, first.name), first.sql)
      const client = await rawClient(db.url)
      await client.query(
        "INSERT INTO ibex_migrations.applied (version, name, checksum) VALUES (9999, '9999_future.sql', 'x')"
      )
      await client.end()
      await expect(runMigrations(db.url, { dir })).rejects.toThrow(/newer than the code/)
    })

    onDefaultBackend("a failing file rolls back entirely and is not recorded", async () => {
      const db = await fresh()
      const dir = copyMigrations()
      temp.push(dir)
      writeFileSync(join(dir, "9000_broken.sql"), "CREATE TABLE ibex_core.half_made (id int);\nSELECT 1/0;\n")
      await expect(runMigrations(db.url, { dir })).rejects.toThrow(/9000_broken\.sql failed/)
      const client = await rawClient(db.url)
      const tables = await client.query("SELECT 1 FROM pg_class WHERE relname = 'half_made'")
      const recorded = await client.query("SELECT 1 FROM ibex_migrations.applied WHERE version = 9000")
      await client.end()
      expect(tables.rows).toHaveLength(0)
      expect(recorded.rows).toHaveLength(0)
    })
  })
}
