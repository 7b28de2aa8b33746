import { X509Certificate } from "node:crypto"
import { readFileSync } from "node:fs"
import { createSecureContext } from "node:tls"
import { Config, ConfigError, Either, Option } from "effect"

/**
 * How a process secures its internal gRPC (issue 14 item 1): mutual TLS from three PEM files (the
 * CA, this side's certificate, its key), or plaintext only when `AUTH_GRPC_INSECURE=true` says so.
 * The files are read here, so a missing or unreadable one is a `config_invalid` line naming its
 * variable, not a failure at the first call.
 */
export type GrpcTls =
  | {
      readonly _tag: "Mtls"
      /** PEM contents (the shape of auth-adapter-grpc's TlsMaterial). */
      readonly material: {
        readonly ca: Buffer
        readonly cert: Buffer
        readonly key: Buffer
        readonly serverName?: string | undefined
      }
      readonly files: { readonly caFile: string; readonly certFile: string; readonly keyFile: string }
    }
  /** AUTH_GRPC_INSECURE=true and no certificate configured: plaintext, by explicit request. */
  | { readonly _tag: "Insecure" }
  /** Nothing configured, where that is allowed (the CLI: it may find a running stack's certificates). */
  | { readonly _tag: "Unset" }

export const TLS_CA_VAR = "IBEX_TLS_CA_FILE"
export const TLS_SERVER_NAME_VAR = "AUTH_TLS_SERVER_NAME"
export const GRPC_INSECURE_VAR = "AUTH_GRPC_INSECURE"

const optionalPath = (name: string) =>
  Config.option(Config.string(name)).pipe(Config.map(Option.filter((s) => s.trim() !== "")))

const readPem = (variable: string, path: string): Either.Either<Buffer, ConfigError.ConfigError> => {
  try {
    const content = readFileSync(path)
    return content.includes("-----BEGIN ")
      ? Either.right(content)
      : Either.left(ConfigError.InvalidData([variable], `${variable}: ${path} is not a PEM file`))
  } catch (e) {
    const code = typeof e === "object" && e !== null && "code" in e ? String(e.code) : "unreadable"
    return Either.left(ConfigError.InvalidData([variable], `${variable}: cannot read ${path} (${code})`))
  }
}

/**
 * What grpc-js would only find at the first call (a key that is not the certificate's; a
 * certificate auth will refuse for its role), said now, naming the variables: a proxy started
 * with the CLI's certificate passed its readiness check and answered every request 503, and one
 * with a mismatched key stopped with a bare "Error".
 */
const checkPair = (
  certVar: string,
  keyVar: string,
  role: string | undefined,
  pems: { readonly ca: Buffer; readonly cert: Buffer; readonly key: Buffer }
): ConfigError.ConfigError | undefined => {
  try {
    createSecureContext({ ca: pems.ca, cert: pems.cert, key: pems.key })
  } catch (e) {
    const reason = e instanceof Error ? e.message.replace(/^error:[0-9A-F]+:/i, "") : "unusable"
    return ConfigError.InvalidData(
      [certVar],
      `${certVar} / ${keyVar}: the certificate and key cannot be used together (${reason})`
    )
  }
  if (role === undefined) return undefined
  let names = ""
  try {
    names = new X509Certificate(pems.cert).subjectAltName ?? ""
  } catch {
    return ConfigError.InvalidData([certVar], `${certVar}: not a readable X.509 certificate`)
  }
  const wanted = `URI:spiffe://ibex/${role}`
  return names.split(", ").includes(wanted)
    ? undefined
    : ConfigError.InvalidData(
        [certVar],
        `${certVar}: the certificate is not a ${role}'s (auth tells roles by the URI subject alternative name ${wanted}; this one has ${names === "" ? "none" : names}), so auth would refuse its calls`
      )
}

const all = (errors: ReadonlyArray<ConfigError.ConfigError>): ConfigError.ConfigError =>
  errors.slice(1).reduce((acc, e) => ConfigError.And(acc, e), errors[0] as ConfigError.ConfigError)

/**
 * The TLS setting of one side: `certVar` / `keyVar` name its certificate and key, IBEX_TLS_CA_FILE
 * the CA. `required`: with none of the three and no AUTH_GRPC_INSECURE=true, each missing variable
 * is reported (auth and the proxy refuse to run plaintext by accident). `role`: the role the
 * certificate must name (`spiffe://ibex/<role>`), when auth authorises this side by it.
 */
export const grpcTlsConfig = (
  certVar: string,
  keyVar: string,
  options: { readonly required: boolean; readonly client: boolean; readonly role?: string }
) =>
  Config.all({
    serverName: options.client ? optionalPath(TLS_SERVER_NAME_VAR) : Config.succeed(Option.none<string>()),
    ca: optionalPath(TLS_CA_VAR),
    cert: optionalPath(certVar),
    key: optionalPath(keyVar),
    insecure: Config.boolean(GRPC_INSECURE_VAR).pipe(Config.withDefault(false))
  }).pipe(
    Config.mapOrFail(({ serverName, ca, cert, key, insecure }): Either.Either<GrpcTls, ConfigError.ConfigError> => {
      const named = [
        [TLS_CA_VAR, ca],
        [certVar, cert],
        [keyVar, key]
      ] as const
      const set = named.filter(([, v]) => Option.isSome(v))
      if (set.length === 0) {
        if (insecure) return Either.right({ _tag: "Insecure" })
        if (!options.required) return Either.right({ _tag: "Unset" })
        return Either.left(
          all(
            named.map(([name]) =>
              ConfigError.MissingData(
                [name],
                `${name} is required: the internal gRPC runs mutual TLS (docs/CONFIGURATION.md); set ${GRPC_INSECURE_VAR}=true for plaintext on a trusted development machine only`
              )
            )
          )
        )
      }
      const errors: Array<ConfigError.ConfigError> = []
      const contents: Array<Buffer> = []
      for (const [name, value] of named) {
        if (Option.isNone(value)) {
          errors.push(ConfigError.MissingData([name], `${name} is required with ${set.map(([n]) => n).join(", ")}`))
          continue
        }
        const pem = readPem(name, value.value)
        if (Either.isLeft(pem)) errors.push(pem.left)
        else contents.push(pem.right)
      }
      if (errors.length > 0) return Either.left(all(errors))
      const [caPem, certPem, keyPem] = contents as [Buffer, Buffer, Buffer]
      const unusable = checkPair(certVar, keyVar, options.role, { ca: caPem, cert: certPem, key: keyPem })
      if (unusable !== undefined) return Either.left(unusable)
      const path = (o: Option.Option<string>) => Option.getOrElse(o, () => "")
      return Either.right({
        _tag: "Mtls",
        material: {
          ca: caPem,
          cert: certPem,
          key: keyPem,
          ...(Option.isSome(serverName) ? { serverName: serverName.value } : {})
        },
        files: { caFile: path(ca), certFile: path(cert), keyFile: path(key) }
      })
    })
  )

/** The catalogue entries (EnvVar) of one side's TLS variables. */
export const grpcTlsEnvVars = (side: {
  readonly certVar: string
  readonly keyVar: string
  readonly who: string
  readonly client: boolean
}) => [
  ...(side.client
    ? [
        {
          name: TLS_SERVER_NAME_VAR,
          default: null,
          secret: false,
          description:
            "The name auth's certificate must carry, when it is not AUTH_GRPC_TARGET's host (unset: that host)."
        }
      ]
    : []),
  {
    name: TLS_CA_VAR,
    default: null,
    secret: false,
    description:
      "PEM file of the private CA of the internal gRPC (mutual TLS): it signs auth's certificate and every proxy's and CLI's client certificate."
  },
  {
    name: side.certVar,
    default: null,
    secret: false,
    description: `PEM certificate (chain) of ${side.who}, signed by IBEX_TLS_CA_FILE's CA.`
  },
  {
    name: side.keyVar,
    default: null,
    secret: false,
    description: `PEM private key of ${side.who} (keep it 0600).`
  },
  {
    name: GRPC_INSECURE_VAR,
    default: "false",
    secret: false,
    description:
      "true: plaintext gRPC between proxy / CLI and auth when no certificate is configured (a loud warning at start). Development only: anyone who reaches the port can call every RPC."
  }
]
