import { readFileSync } from "node:fs"
import {
  type ChannelCredentials,
  type ChannelOptions,
  credentials,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type ServerCredentials,
  ServerCredentials as ServerCredentialsFactory,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
  status,
  type UntypedServiceImplementation
} from "@grpc/grpc-js"

/**
 * Mutual TLS on the internal gRPC channels (issue 14 item 1). One private CA signs every
 * certificate: auth's server certificate, and the client certificates of the proxies and of the
 * CLI. Each client certificate names its role in a URI subject alternative name,
 * `spiffe://ibex/proxy` or `spiffe://ibex/cli`; auth requires a client certificate signed by the
 * CA on every connection and refuses the proxy-only RPCs (ValidateToken, VerifyAgent, Authorize,
 * WatchInvalidations, RecordUsage, GetMonthSpend) to any caller whose certificate does not say `proxy`.
 */
export interface TlsMaterial {
  /** PEM of the CA that signed the peer's certificate (auth: the clients'; a client: auth's). */
  readonly ca: Buffer
  /** PEM of this side's certificate (chain). */
  readonly cert: Buffer
  /** PEM of this side's private key. */
  readonly key: Buffer
  /**
   * Clients only: the name auth's certificate must carry, when it is not the target's host (TLS
   * SNI and verification; e.g. `localhost` for a target `127.0.0.1:9091`, which also spares Node's
   * warning about an IP address as a server name). Unset: the target's host.
   */
  readonly serverName?: string | undefined
}

export interface TlsFiles {
  readonly caFile: string
  readonly certFile: string
  readonly keyFile: string
}

/** Reads the three PEM files (throws the fs error when one cannot be read). */
export const readTlsFiles = (files: TlsFiles): TlsMaterial => ({
  ca: readFileSync(files.caFile),
  cert: readFileSync(files.certFile),
  key: readFileSync(files.keyFile)
})

export type CallerRole = "proxy" | "cli"

/** The URI SAN prefix a client certificate's role is read from. */
export const ROLE_URI_PREFIX = "spiffe://ibex/"
export const roleUri = (role: CallerRole | "auth"): string => `${ROLE_URI_PREFIX}${role}`

/**
 * Auth's server credentials: TLS requiring a client certificate signed by `tls.ca`, or plaintext.
 * The TLS server also disables Nagle's algorithm on its sockets (`noDelay`, a `net.Server` option
 * grpc-js passes through from the credentials' constructor options but createSsl does not set), as
 * the clients' side already is: an invalidation written right after a heartbeat must not wait for
 * the proxy's delayed ACK. (A private field of grpc-js 1.14; absent, nothing is set.)
 */
export const serverCredentials = (tls: TlsMaterial | undefined): ServerCredentials => {
  if (tls === undefined) return ServerCredentialsFactory.createInsecure()
  const credentials = ServerCredentialsFactory.createSsl(tls.ca, [{ cert_chain: tls.cert, private_key: tls.key }], true)
  const options = (credentials as unknown as { serverConstructorOptions?: Record<string, unknown> | null })
    .serverConstructorOptions
  if (typeof options === "object" && options !== null) options.noDelay = true
  return credentials
}

/** A client's channel credentials: TLS with its own certificate, verifying auth's against `tls.ca`; or plaintext. */
export const channelCredentials = (tls: TlsMaterial | undefined): ChannelCredentials =>
  tls === undefined ? credentials.createInsecure() : credentials.createSsl(tls.ca, tls.key, tls.cert)

/** The channel options a TLS client adds (the server-name override, when set). */
export const tlsChannelOptions = (tls: TlsMaterial | undefined): ChannelOptions =>
  tls?.serverName === undefined ? {} : { "grpc.ssl_target_name_override": tls.serverName }

/** The roles a verified peer certificate names (`URI:spiffe://ibex/<role>` SANs). */
export const rolesOfSubjectAltName = (san: string | undefined): ReadonlyArray<string> =>
  (san ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry.startsWith(`URI:${ROLE_URI_PREFIX}`))
    .map((entry) => entry.slice(`URI:${ROLE_URI_PREFIX}`.length))

type AnyCall = Pick<ServerUnaryCall<unknown, unknown>, "getAuthContext">

/**
 * Whether the caller presented a verified certificate naming `role`. grpc-js hands the peer
 * certificate only when the TLS socket verified it against the server's CA (`authorized`).
 */
export const callerHasRole = (call: AnyCall, role: CallerRole): boolean => {
  const context = call.getAuthContext?.()
  const certificate = context?.sslPeerCertificate
  if (certificate === undefined) return false
  return rolesOfSubjectAltName(certificate.subjectaltname).includes(role)
}

const refusal = (method: string) => ({
  code: status.PERMISSION_DENIED,
  details: `${method} is an internal RPC for the proxy: this caller's certificate is not a proxy's`
})

/**
 * Wraps the named handlers of a service so that they answer PERMISSION_DENIED (without running)
 * to any caller whose verified certificate is not a proxy's. `onRefused` counts and logs it.
 */
export const proxyOnly = <S extends UntypedServiceImplementation>(
  handlers: S,
  methods: ReadonlyArray<keyof S & string>,
  onRefused: (method: string) => void = () => {}
): S => {
  const guarded: Record<string, unknown> = { ...handlers }
  for (const name of methods) {
    const handler = handlers[name]
    if (typeof handler !== "function") continue
    const method = name.charAt(0).toUpperCase() + name.slice(1)
    guarded[name] = (
      call: ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>,
      callback?: sendUnaryData<unknown>
    ) => {
      if (callerHasRole(call, "proxy")) {
        if (callback === undefined)
          return (handler as handleServerStreamingCall<unknown, unknown>)(
            call as ServerWritableStream<unknown, unknown>
          )
        return (handler as handleUnaryCall<unknown, unknown>)(call as ServerUnaryCall<unknown, unknown>, callback)
      }
      onRefused(method)
      if (callback !== undefined) return callback(refusal(method))
      const stream = call as ServerWritableStream<unknown, unknown>
      stream.emit("error", refusal(method))
    }
  }
  return guarded as S
}
