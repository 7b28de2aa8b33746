// Scenario 1, the edge ceiling: a bare node:http server answering a fixed JSON body.
// Usage: node bench/bare.mjs <port>   (prints the bound port on stdout once listening)
import http from "node:http"

const body = JSON.stringify({ status: "ok", service: "proxy", version: "0.1.0" })
const length = String(Buffer.byteLength(body))
const server = http.createServer((_req, res) => {
  res.writeHead(200, { "content-type": "application/json", "content-length": length })
  res.end(body)
})
server.keepAliveTimeout = 5_000
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => console.log(server.address().port))
process.on("SIGTERM", () => server.close(() => process.exit(0)))
