import { createRequire } from "node:module"

/**
 * The slice of node-postgres (`pg`) this package uses directly: one unpooled client for the
 * migrator and for LISTEN. `@types/pg` is not installed, so the shape is declared here and the
 * module is loaded with `require` (pg is CommonJS).
 */
export interface PgNotification {
  readonly channel: string
  readonly payload?: string | undefined
}

export interface PgQueryResult<R> {
  readonly rows: Array<R>
  readonly rowCount: number | null
}

export interface PgRawClient {
  connect(): Promise<void>
  query<R = Record<string, unknown>>(text: string, values?: ReadonlyArray<unknown>): Promise<PgQueryResult<R>>
  end(): Promise<void>
  on(event: "notification", listener: (message: PgNotification) => void): this
  on(event: "error", listener: (error: Error) => void): this
  on(event: "end", listener: () => void): this
  removeAllListeners(event?: string): this
  readonly processID?: number | null
}

export interface PgClientOptions {
  readonly connectionString: string
  readonly application_name?: string
  readonly connectionTimeoutMillis?: number
  readonly keepAlive?: boolean
}

interface PgModule {
  readonly Client: new (options: PgClientOptions) => PgRawClient
}

const pg = createRequire(import.meta.url)("pg") as PgModule

export const newPgClient = (options: PgClientOptions): PgRawClient => new pg.Client(options)
