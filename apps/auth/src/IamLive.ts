import { AccessTokenHmac, MailerSmtp, parseSessionKeys, type SessionKey, TotpHmac } from "@ibex/auth-adapter-grpc"
import { AttemptLimiterLive, defaultIamSettings, IamConfig, type IamSettings } from "@ibex/auth-core"
import type { AccessTokenSigner, Mailer } from "@ibex/domain"
import { MailerLog, TokenDigest } from "@ibex/domain"
import { Effect, Layer, Option, Redacted } from "effect"
import type { AuthHttpConfig, IamHttpSettings } from "./config.js"
import { IamHttpLive } from "./http/IamHttp.js"

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"])

/** Cookies are `Secure` unless the listener is on loopback (then TLS cannot be in front of it). */
export const secureCookiesFor = (host: string) => !LOOPBACK.has(host)

/**
 * The access-token keys: AUTH_SESSION_KEYS, or one derived from the token pepper through the
 * TokenDigest (an HMAC of a fixed label under the pepper): stable across restarts, never stored.
 */
const signerLayer = (settings: IamHttpSettings | undefined): Layer.Layer<AccessTokenSigner, never, TokenDigest> =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      if (settings !== undefined && Option.isSome(settings.sessionKeys)) {
        const parsed = parseSessionKeys(Redacted.value(settings.sessionKeys.value))
        if (typeof parsed === "string") return yield* Effect.dieMessage(`AUTH_SESSION_KEYS: ${parsed}`)
        return AccessTokenHmac(parsed)
      }
      const digest = yield* TokenDigest
      const key: SessionKey = {
        kid: "p1",
        secret: Redacted.make(digest.digest(Redacted.make("ibex-operator-session-key-v1")))
      }
      return AccessTokenHmac([key])
    })
  )

const mailerLayer = (settings: IamHttpSettings | undefined) =>
  settings === undefined || settings.mail.kind === "log"
    ? MailerLog
    : MailerSmtp({
        host: settings.mail.host,
        port: settings.mail.port,
        secure: settings.mail.secure,
        user: Option.getOrNull(settings.mail.user),
        password: Option.getOrNull(settings.mail.password),
        from: settings.mail.from
      })

export const iamSettingsFor = (http: AuthHttpConfig, overrides: Partial<IamSettings> = {}): IamSettings => {
  const urlHost = http.host === "0.0.0.0" || http.host === "::" ? "127.0.0.1" : http.host
  const iam = http.iam
  return {
    ...defaultIamSettings,
    ...(iam === undefined
      ? {}
      : { accessTtlMs: iam.accessTtlSeconds * 1000, refreshTtlMs: iam.refreshTtlSeconds * 1000 }),
    consoleUrl:
      iam !== undefined && Option.isSome(iam.consoleUrl)
        ? iam.consoleUrl.value
        : `http://${urlHost.includes(":") ? `[${urlHost}]` : urlHost}:${http.port}/console/`,
    ...overrides
  }
}

/**
 * The IAM API's handlers for the admin listener, with what it runs on beside the stores: the
 * access-token signer, TOTP, the mailer, the attempt limiter and the settings.
 */
export const IamAdminHandlersLive = (
  http: AuthHttpConfig,
  options: {
    /** Settings over the configured ones (tests: short lifetimes, low attempt limits). */
    readonly settings?: Partial<IamSettings> | undefined
    /** Replace the configured mailer (tests: the collecting one). */
    readonly mailer?: Layer.Layer<Mailer> | undefined
  } = {}
) => {
  const settings = Layer.succeed(IamConfig, iamSettingsFor(http, options.settings))
  const services = Layer.mergeAll(
    signerLayer(http.iam),
    TotpHmac,
    options.mailer ?? mailerLayer(http.iam),
    AttemptLimiterLive.pipe(Layer.provide(settings)),
    settings
  )
  return IamHttpLive({ secureCookies: secureCookiesFor(http.host) }).pipe(Layer.provide(services))
}
