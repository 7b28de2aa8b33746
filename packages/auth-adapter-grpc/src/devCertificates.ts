import { createPrivateKey, KeyObject, X509Certificate as NodeX509, randomBytes, webcrypto } from "node:crypto"
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { type CallerRole, roleUri, type TlsFiles } from "./tls.js"

/**
 * A private development CA and the certificates `npm start` runs its internal gRPC on (issue 14
 * item 1): auth's server certificate (SANs `DNS:localhost`, `IP:127.0.0.1`, `IP:::1`,
 * `URI:spiffe://ibex/auth`), a proxy client certificate (`URI:spiffe://ibex/proxy`) and a CLI
 * client certificate (`URI:spiffe://ibex/cli`), ECDSA P-256, written into a folder of mode 0700
 * with every file 0600. Kept across starts; all of them are issued again when one is missing,
 * unreadable, not signed by the CA, or within `renewBeforeDays` of its end. The CA lives 1 year,
 * the leaves 90 days. The CA's key never leaves the folder. Production issues its own (docs/OPERATIONS.md).
 */
export interface DevCertificates {
  readonly dir: string
  readonly caFile: string
  readonly auth: TlsFiles
  readonly proxy: TlsFiles
  readonly cli: TlsFiles
}

export const DEV_CA_DAYS = 365
export const DEV_LEAF_DAYS = 90
const RENEW_BEFORE_DAYS = 7
const DAY_MS = 86_400_000

const files = (dir: string): DevCertificates => {
  const caFile = join(dir, "ca.pem")
  const leaf = (name: string): TlsFiles => ({
    caFile,
    certFile: join(dir, `${name}.pem`),
    keyFile: join(dir, `${name}-key.pem`)
  })
  return { dir, caFile, auth: leaf("auth"), proxy: leaf("proxy"), cli: leaf("cli") }
}

const CA_KEY = "ca-key.pem"

/** Whether every file is there, readable, signed by the CA, matches its key, is not near its end, and auth's names every server name. */
const usable = (certs: DevCertificates, now: number, serverNames: ReadonlyArray<string>): boolean => {
  try {
    const ca = new NodeX509(readFileSync(certs.caFile))
    const caKey = createPrivateKey(readFileSync(join(certs.dir, CA_KEY)))
    if (!ca.checkPrivateKey(caKey)) return false
    const fresh = (cert: NodeX509) =>
      Date.parse(cert.validFrom) <= now + 60_000 && Date.parse(cert.validTo) - now > RENEW_BEFORE_DAYS * DAY_MS
    if (!fresh(ca)) return false
    for (const leaf of [certs.auth, certs.proxy, certs.cli]) {
      const cert = new NodeX509(readFileSync(leaf.certFile))
      const key = createPrivateKey(readFileSync(leaf.keyFile))
      if (!cert.verify(ca.publicKey) || !cert.checkPrivateKey(key) || !fresh(cert)) return false
    }
    const authNames = (new NodeX509(readFileSync(certs.auth.certFile)).subjectAltName ?? "").split(", ")
    if (!serverNames.every((name) => authNames.includes(`DNS:${name}`))) return false
    return true
  } catch {
    return false
  }
}

const writePrivate = (path: string, content: string) => {
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, content, { mode: 0o600 })
  chmodSync(tmp, 0o600)
  renameSync(tmp, path)
  chmodSync(path, 0o600)
}

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const

/** Issues the CA and the three leaves (the library is loaded only here: it needs the reflect-metadata polyfill). */
const issue = async (certs: DevCertificates, now: number, serverNames: ReadonlyArray<string>) => {
  await import("reflect-metadata")
  const x509 = await import("@peculiar/x509")
  x509.cryptoProvider.set(webcrypto as never)
  const serial = () => {
    const bytes = randomBytes(16)
    bytes[0] = (bytes[0] ?? 0) & 0x7f
    return bytes.toString("hex")
  }
  // Node's WebCrypto keys, typed loosely where the library's (DOM) types meet Node's.
  const keys = () =>
    webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]) as Promise<unknown> as Promise<{
      readonly publicKey: never
      readonly privateKey: never
    }>
  const pem = (key: webcrypto.CryptoKey) => KeyObject.from(key).export({ type: "pkcs8", format: "pem" }) as string
  const notBefore = new Date(now - 60_000)

  const caKeys = await keys()
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: "CN=IBEX development CA (npm start)",
    notBefore,
    notAfter: new Date(now + DEV_CA_DAYS * DAY_MS),
    keys: caKeys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey)
    ]
  })

  const leaf = async (role: CallerRole | "auth", target: TlsFiles) => {
    const leafKeys = await keys()
    const altNames: Array<{ type: "dns" | "ip" | "url"; value: string }> = [{ type: "url", value: roleUri(role) }]
    if (role === "auth")
      altNames.push(
        { type: "dns", value: "localhost" },
        ...serverNames.filter((n) => n !== "localhost").map((value) => ({ type: "dns" as const, value })),
        { type: "ip", value: "127.0.0.1" },
        { type: "ip", value: "::1" }
      )
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=ibex-${role}`,
      issuer: ca.subject,
      notBefore,
      notAfter: new Date(now + DEV_LEAF_DAYS * DAY_MS),
      publicKey: leafKeys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension(
          [role === "auth" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth],
          false
        ),
        new x509.SubjectAlternativeNameExtension(altNames, false),
        await x509.SubjectKeyIdentifierExtension.create(leafKeys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(ca, false)
      ]
    })
    writePrivate(target.keyFile, pem(leafKeys.privateKey))
    writePrivate(target.certFile, cert.toString("pem"))
  }

  writePrivate(join(certs.dir, CA_KEY), pem(caKeys.privateKey))
  writePrivate(certs.caFile, ca.toString("pem"))
  await leaf("auth", certs.auth)
  await leaf("proxy", certs.proxy)
  await leaf("cli", certs.cli)
}

/**
 * The development certificates in `dir` (created 0700 if absent, and set 0700 if it was not),
 * issued on first use and again when they are no longer usable. Answers their paths and whether
 * they were issued now.
 */
export const ensureDevCertificates = async (
  dir: string,
  options: {
    readonly now?: number | undefined
    /** More DNS names for auth's certificate (e.g. `auth` on a compose network); localhost is always there. */
    readonly serverNames?: ReadonlyArray<string> | undefined
  } = {}
): Promise<DevCertificates & { readonly issued: boolean }> => {
  const certs = files(dir)
  const now = options.now ?? Date.now()
  const serverNames = options.serverNames ?? []
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 })
  chmodSync(dir, 0o700)
  if (usable(certs, now, serverNames)) return { ...certs, issued: false }
  await issue(certs, now, serverNames)
  return { ...certs, issued: true }
}
