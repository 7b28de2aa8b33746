import { createRequire } from "node:module"

/** The slice of node-postgres provisioning uses (`@types/pg` is not installed; pg is CommonJS). */
export interface AdminClient {
  connect(): Promise<void>
  query<R = Record<string, unknown>>(text: string, values?: ReadonlyArray<unknown>): Promise<{ rows: Array<R> }>
  end(): Promise<void>
  on(event: "error", listener: (error: Error) => void): this
}

interface PgModule {
  readonly Client: new (options: { connectionString: string; application_name?: string }) => AdminClient
  readonly escapeIdentifier: (name: string) => string
}

const pg = createRequire(import.meta.url)("pg") as PgModule

export const escapeIdentifier = (name: string): string => pg.escapeIdentifier(name)

/** Runs `f` on a fresh connection to `url` and always closes it. */
export const withClient = async <A>(url: string, f: (client: AdminClient) => Promise<A>): Promise<A> => {
  const client = new pg.Client({ connectionString: url, application_name: "ibex-testkit-provision" })
  client.on("error", () => {})
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end().catch(() => undefined)
  }
}
