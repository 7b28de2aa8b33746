import { type EnvVar, type GrpcTls, grpcTlsConfig, grpcTlsEnvVars } from "@ibex/app-common"
import { defaultDataDir } from "@ibex/persistence-pg"
import { Config, Option, Redacted } from "effect"

/**
 * Every environment variable the CLI reads, in one place (same shape as the services'
 * catalogues): `cliEnvVars` documents them, `CliEnv` reads them.
 */
export type CliEnvVar = EnvVar

export const DEFAULT_AUTH_TARGET = "127.0.0.1:9091"
/** AUTH_GRPC_TARGET unset, before `cliEnv` resolves it. */
export const UNSET_AUTH_TARGET = ""

export const cliEnvVars: ReadonlyArray<CliEnvVar> = [
  {
    name: "DATABASE_URL",
    default: null,
    secret: true,
    description:
      "Postgres owner URL for db / org / agent / admin commands. Unset: the embedded PGlite data folder (IBEX_DATA_DIR); while a stack runs on it the CLI works through that stack (ibex-stack.json in the folder)."
  },
  {
    name: "DATABASE_APP_URL",
    default: null,
    secret: true,
    description: "The app role's URL (default: DATABASE_URL with user ibex_app and no password)."
  },
  {
    name: "IBEX_DATA_DIR",
    default: ".ibex/pgdata",
    secret: false,
    description: "Embedded PGlite data folder (relative to the repository root by default)."
  },
  {
    name: "AUTH_GRPC_TARGET",
    default: DEFAULT_AUTH_TARGET,
    secret: false,
    description:
      "The auth service's gRPC address (host:port) for token, usage and budget commands (and platform commands with IBEX_ADMIN_TOKEN). Unset: where a running npm start on IBEX_DATA_DIR listens (its ibex-stack.json), else 127.0.0.1:9091."
  },
  ...grpcTlsEnvVars({
    certVar: "IBEX_CLI_TLS_CERT_FILE",
    keyVar: "IBEX_CLI_TLS_KEY_FILE",
    who: "the CLI's client certificate for auth; it must carry the SAN URI:spiffe://ibex/cli (unset: a running npm start stack's, from ibex-stack.json)",
    client: true
  }),
  {
    name: "IBEX_ADMIN_TOKEN",
    default: null,
    secret: true,
    description:
      "A platform-admin credential (ibex_padm_…): org / agent commands and token commands with --org then go to the auth service's PlatformAdminService at AUTH_GRPC_TARGET instead of the database. Never printed or logged."
  },
  {
    name: "IBEX_TOKEN",
    default: null,
    secret: true,
    description: "The caller's PAT for token commands when --token is not given. Never printed or logged."
  }
]

export interface CliEnv {
  readonly databaseUrl: Option.Option<Redacted.Redacted<string>>
  readonly databaseAppUrl: Option.Option<Redacted.Redacted<string>>
  readonly dataDir: string
  /** AUTH_GRPC_TARGET; else a running stack's auth address on `dataDir`; else 127.0.0.1:9091 (`cliEnv`). */
  readonly authTarget: string
  readonly token: Option.Option<Redacted.Redacted<string>>
  readonly adminToken: Option.Option<Redacted.Redacted<string>>
}

/** An optional secret; set to "" counts as unset. */
const nonEmpty = (name: string) =>
  Config.option(Config.redacted(name)).pipe(Config.map(Option.filter((r) => Redacted.value(r) !== "")))

/** Reads `cliEnvVars` (empty strings count as unset). */
export const CliEnv: Config.Config<CliEnv> = Config.all({
  databaseUrl: nonEmpty("DATABASE_URL"),
  databaseAppUrl: nonEmpty("DATABASE_APP_URL"),
  dataDir: Config.string("IBEX_DATA_DIR").pipe(
    Config.map((s) => (s === "" ? defaultDataDir() : s)),
    Config.withDefault(defaultDataDir())
  ),
  // Validated on the variable itself so the error names it; "" still means unset.
  authTarget: Config.string("AUTH_GRPC_TARGET").pipe(
    Config.validate({
      message: "AUTH_GRPC_TARGET must be host:port",
      validation: (s) => s === "" || /^[^\s:]+:\d{1,5}$/.test(s)
    }),
    Config.withDefault(""),
    // Resolved by `cliEnv` when unset: it may look for a running stack.
    Config.map((s) => (s === "" ? UNSET_AUTH_TARGET : s))
  ),
  token: nonEmpty("IBEX_TOKEN"),
  adminToken: nonEmpty("IBEX_ADMIN_TOKEN")
})

/**
 * Mutual TLS to auth: the configured certificate, plaintext by request, or unset (see grpcTls in
 * common.ts). Read only by the commands that dial auth: a database command runs in a shell whose
 * environment holds a CA for the services (`IBEX_TLS_CA_FILE`) and no CLI certificate.
 */
export const CliTls: Config.Config<GrpcTls> = grpcTlsConfig("IBEX_CLI_TLS_CERT_FILE", "IBEX_CLI_TLS_KEY_FILE", {
  required: false,
  client: true
})
