import { Effect, Layer, Redacted } from "effect"
import { Mailer, type MailMessage } from "./ports.js"

/**
 * The development mailer: one log line per mail with the recipient, the kind, the subject and
 * the link (the one secret a mail is meant to carry), nothing else. Never for production.
 */
export const MailerLog = Layer.succeed(
  Mailer,
  Mailer.of({
    send: (message) =>
      Effect.logInfo({
        event: "mail_logged",
        to: message.to,
        kind: message.kind,
        subject: message.subject,
        link: Redacted.value(message.link)
      })
  })
)

/** The collecting mailer for tests: every message, in order. */
export const makeMailerMemory = () => {
  const sent: Array<MailMessage> = []
  return { sent, layer: Layer.succeed(Mailer, Mailer.of({ send: (m) => Effect.sync(() => void sent.push(m)) })) }
}
