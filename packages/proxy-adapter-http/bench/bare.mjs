import http from "node:http"

const body = JSON.stringify({ status: "ok", service: "proxy", version: "0.1.0" })
const s = http.createServer((_req, res) => {
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
  res.end(body)
})
s.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => console.log(s.address().port))
