// The forwarding ceiling: a bare node:http forwarder. It reads the request body, sends it to the
// upstream on a keep-alive pool and pipes the answer back; no auth, no limits, no validation.
// Usage: node bench/bare-forwarder.mjs <port> <upstream-url>   (prints the bound port once listening)
import http from "node:http"

const upstream = new URL(process.argv[3] ?? "http://127.0.0.1:9000")
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })
const server = http.createServer((req, res) => {
  const chunks = []
  req.on("data", (c) => chunks.push(c))
  req.on("end", () => {
    const body = Buffer.concat(chunks)
    const out = http.request(
      {
        agent,
        host: upstream.hostname,
        port: upstream.port,
        method: "POST",
        path: "/v1/chat/completions",
        headers: { "content-type": "application/json", "content-length": body.length }
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, { "content-type": up.headers["content-type"] ?? "application/json" })
        up.pipe(res)
      }
    )
    out.on("error", () => {
      res.writeHead(502)
      res.end()
    })
    out.end(body)
  })
})
server.keepAliveTimeout = 5_000
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => console.log(server.address().port))
process.on("SIGTERM", () => server.close(() => process.exit(0)))
