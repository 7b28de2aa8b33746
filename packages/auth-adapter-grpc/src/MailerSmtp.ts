import { Mailer } from "@ibex/domain"
import { Effect, Layer, Redacted } from "effect"
import { createTransport } from "nodemailer"

/** SMTP settings (docs/ADMIN_API.md, "Mail"): SMTP_HOST, SMTP_PORT, SMTP_SECURE, SMTP_USER, SMTP_PASSWORD, MAIL_FROM. */
export interface SmtpConfig {
  readonly host: string
  readonly port: number
  /** TLS from the first byte (465); otherwise STARTTLS when the server offers it. */
  readonly secure: boolean
  readonly user: string | null
  readonly password: Redacted.Redacted<string> | null
  readonly from: string
}

/**
 * The production mailer (nodemailer over SMTP). A failed send is logged with the recipient's
 * domain and the error's code only (never the link) and answered as success: callers such as
 * "forgot password" must not reveal anything by failing.
 */
export const MailerSmtp = (config: SmtpConfig): Layer.Layer<Mailer> =>
  Layer.sync(Mailer, () => {
    const transport = createTransport({
      host: config.host,
      port: config.port,
      secure: config.secure,
      ...(config.user === null
        ? {}
        : { auth: { user: config.user, pass: config.password === null ? "" : Redacted.value(config.password) } })
    })
    return Mailer.of({
      send: (message) =>
        Effect.tryPromise(() =>
          transport.sendMail({
            from: config.from,
            to: message.to,
            subject: message.subject,
            text: `${message.text}\n\n${Redacted.value(message.link)}\n`
          })
        ).pipe(
          Effect.catchAll((e) =>
            Effect.logWarning({
              event: "mail_failed",
              kind: message.kind,
              to_domain: message.to.split("@")[1] ?? "",
              code: String((e.error as { code?: unknown } | undefined)?.code ?? "unknown")
            })
          ),
          Effect.withSpan("Mailer.send")
        )
    })
  })
