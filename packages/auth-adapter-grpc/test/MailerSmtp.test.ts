import { createServer, type Server } from "node:net"
import { Mailer } from "@ibex/domain"
import { Effect, Redacted } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { MailerSmtp } from "../src/MailerSmtp.js"

/** A minimal SMTP server (no TLS, no auth) that records what it is sent. */
const fakeSmtp = () => {
  const received: Array<{ from: string; to: Array<string>; data: string }> = []
  const server = createServer((socket) => {
    let buffer = ""
    let inData = false
    let current = { from: "", to: [] as Array<string>, data: "" }
    socket.write("220 fake ESMTP\r\n")
    socket.on("data", (chunk) => {
      buffer += chunk.toString("utf8")
      let i = buffer.indexOf("\r\n")
      while (i !== -1) {
        const line = buffer.slice(0, i)
        buffer = buffer.slice(i + 2)
        if (inData) {
          if (line === ".") {
            inData = false
            received.push(current)
            current = { from: "", to: [], data: "" }
            socket.write("250 queued\r\n")
          } else current.data += `${line}\n`
        } else if (/^(EHLO|HELO)/i.test(line)) socket.write("250-fake\r\n250 OK\r\n")
        else if (/^MAIL FROM:/i.test(line)) {
          current.from = line
          socket.write("250 OK\r\n")
        } else if (/^RCPT TO:/i.test(line)) {
          current.to.push(line)
          socket.write("250 OK\r\n")
        } else if (/^DATA/i.test(line)) {
          inData = true
          socket.write("354 go\r\n")
        } else if (/^QUIT/i.test(line)) {
          socket.end("221 bye\r\n")
        } else socket.write("250 OK\r\n")
        i = buffer.indexOf("\r\n")
      }
    })
  })
  return { server, received }
}

describe("MailerSmtp (nodemailer)", () => {
  const smtp = fakeSmtp()
  let port = 0
  beforeAll(async () => {
    await new Promise<void>((r) => smtp.server.listen(0, "127.0.0.1", () => r()))
    port = (smtp.server.address() as { port: number }).port
  })
  afterAll(async () => {
    await new Promise<void>((r) => (smtp.server as Server).close(() => r()))
  })

  it("sends the mail with its link to the recipient; a dead server is logged, not raised", async () => {
    const layer = MailerSmtp({
      host: "127.0.0.1",
      port,
      secure: false,
      user: null,
      password: null,
      from: "IBEX <no-reply@ibex.test>"
    })
    const link = "http://console.test/console/#/reset?token=ibex_rst_abc"
    await Effect.runPromise(
      Effect.flatMap(Mailer, (m) =>
        m.send({ to: "ada@example.test", kind: "reset", subject: "Reset", link: Redacted.make(link), text: "Hello." })
      ).pipe(Effect.provide(layer))
    )
    expect(smtp.received).toHaveLength(1)
    expect(smtp.received[0]?.to.join()).toContain("ada@example.test")
    expect(smtp.received[0]?.data).toContain(link)
    const dead = MailerSmtp({ host: "127.0.0.1", port: 1, secure: false, user: null, password: null, from: "x@y.z" })
    await Effect.runPromise(
      Effect.flatMap(Mailer, (m) =>
        m.send({ to: "b@example.test", kind: "reset", subject: "x", link: Redacted.make(link), text: "x" })
      ).pipe(Effect.provide(dead))
    )
  })
})
