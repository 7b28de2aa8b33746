import { chmodSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Option, Redacted } from "effect"

/**
 * How to reach a running embedded stack, recorded in its data folder (`ibex-stack.json`, mode
 * 0600, the same trust as the folder itself) while it runs. PGlite lets one process open a folder;
 * the CLI, finding the folder in use, reads this file and works through the running stack instead
 * of refusing: through the auth service's PlatformAdminService (authenticated with the local
 * credential below) for everything that must reach caches, and over the PGlite socket for direct
 * database work (migrations, seed, credentials). The file is removed when the stack stops; a
 * leftover from a crash is ignored because its pid no longer holds the folder.
 */
export const STACK_ENDPOINT_FILE = "ibex-stack.json"

export interface StackEndpoint {
  readonly pid: number
  /** The auth gRPC address (`host:port`). */
  readonly authGrpc: string
  /** The PGlite socket's owner URL (loopback). */
  readonly databaseUrl: Redacted.Redacted<string>
  /** A platform-admin credential minted at start for this stack's CLI, revoked at stop. */
  readonly adminCredential: Redacted.Redacted<string>
  /** The CLI's client certificate for the stack's mutual TLS (npm start's development CA). */
  readonly tls?: StackEndpointTls | undefined
}

/** Paths of the CLI's certificate, its key and the CA (files 0600 in a 0700 folder). */
export interface StackEndpointTls {
  readonly caFile: string
  readonly certFile: string
  readonly keyFile: string
  /** The name auth's certificate carries for the recorded address (`localhost`). */
  readonly serverName: string
}

export const stackEndpointPath = (dataDir: string): string => join(dataDir, STACK_ENDPOINT_FILE)

/** Writes the file atomically, 0600 from the first byte. */
export const writeStackEndpoint = (dataDir: string, endpoint: StackEndpoint): void => {
  const path = stackEndpointPath(dataDir)
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(
    tmp,
    `${JSON.stringify({
      version: 1,
      pid: endpoint.pid,
      auth_grpc: endpoint.authGrpc,
      database_url: Redacted.value(endpoint.databaseUrl),
      admin_credential: Redacted.value(endpoint.adminCredential),
      ...(endpoint.tls === undefined
        ? {}
        : {
            tls: {
              ca_file: endpoint.tls.caFile,
              cert_file: endpoint.tls.certFile,
              key_file: endpoint.tls.keyFile,
              server_name: endpoint.tls.serverName
            }
          })
    })}\n`,
    { mode: 0o600 }
  )
  chmodSync(tmp, 0o600)
  renameSync(tmp, path)
}

/** The recorded endpoint, if the file exists, parses, and is not readable by others. */
export const readStackEndpoint = (dataDir: string): Option.Option<StackEndpoint> => {
  try {
    const path = stackEndpointPath(dataDir)
    if ((statSync(path).mode & 0o077) !== 0) return Option.none()
    const raw = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>
    if (
      raw.version !== 1 ||
      typeof raw.pid !== "number" ||
      typeof raw.auth_grpc !== "string" ||
      typeof raw.database_url !== "string" ||
      typeof raw.admin_credential !== "string"
    )
      return Option.none()
    const tls = raw.tls as Record<string, unknown> | undefined
    const tlsOk =
      typeof tls === "object" &&
      tls !== null &&
      typeof tls.ca_file === "string" &&
      typeof tls.cert_file === "string" &&
      typeof tls.key_file === "string" &&
      typeof tls.server_name === "string"
    return Option.some({
      pid: raw.pid,
      authGrpc: raw.auth_grpc,
      databaseUrl: Redacted.make(raw.database_url),
      adminCredential: Redacted.make(raw.admin_credential),
      ...(tlsOk
        ? {
            tls: {
              caFile: tls.ca_file as string,
              certFile: tls.cert_file as string,
              keyFile: tls.key_file as string,
              serverName: tls.server_name as string
            }
          }
        : {})
    })
  } catch {
    return Option.none()
  }
}

/** Removes the file if it is this process's own. */
export const removeStackEndpoint = (dataDir: string, pid: number = process.pid): void => {
  const current = readStackEndpoint(dataDir)
  if (Option.isSome(current) && current.value.pid === pid) rmSync(stackEndpointPath(dataDir), { force: true })
}
