import { randomBytes } from "node:crypto"
import { PGlite } from "@electric-sql/pglite"
import { Effect, Exit, Redacted, Scope } from "effect"
import { startEmbedded } from "../src/embedded.js"
import { type Backend, rawClient } from "./provision.js"

/** An empty, unmigrated database: for the migrator's and the scripts' own tests. */
export interface EmptyDatabase {
  readonly url: string
  readonly close: () => Promise<void>
}

/** A freshly initialised PGlite data folder, made once per test file (initdb is the slow part of starting one). */
let emptyPglite: Promise<Blob> | undefined

export const emptyDatabase = async (backend: Backend): Promise<EmptyDatabase> => {
  if (backend === "postgres") {
    const admin = process.env.DATABASE_URL as string
    const name = `ibex_test_empty_${process.pid}_${randomBytes(4).toString("hex")}`
    const client = await rawClient(admin)
    await client.query(`CREATE DATABASE ${name}`).finally(() => client.end())
    const url = new URL(admin)
    url.pathname = `/${name}`
    return {
      url: url.toString(),
      close: async () => {
        const c = await rawClient(admin)
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).finally(() => c.end())
      }
    }
  }
  const scope = Effect.runSync(Scope.make())
  emptyPglite ??= PGlite.create().then(async (db) => {
    const dump = await db.dumpDataDir("gzip")
    await db.close()
    return dump
  })
  const loadDataDir = await emptyPglite
  const db = await Effect.runPromise(
    Scope.extend(startEmbedded({ dataDir: "memory", migrate: false, loadDataDir }), scope)
  )
  return {
    url: Redacted.value(db.ownerUrl),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}
