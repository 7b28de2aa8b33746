// Tiny loopback load generator: keep-alive, fixed concurrency, fixed duration. Prints req/s and p50/p99 ms.
import http from "node:http"

const [url, seconds = "4", concurrency = "16"] = process.argv.slice(2)
const u = new URL(url)
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(concurrency) })
const lat = []
let done = 0,
  errors = 0
const end = performance.now() + Number(seconds) * 1000
const one = () =>
  new Promise((resolve) => {
    const t = performance.now()
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, agent, headers: {} }, (res) => {
      res.resume()
      res.on("end", () => {
        lat.push(performance.now() - t)
        done++
        resolve()
      })
    })
    req.on("error", () => {
      errors++
      resolve()
    })
    req.end()
  })
const worker = async () => {
  while (performance.now() < end) await one()
}
// warmup
const w = performance.now()
while (performance.now() - w < 500) await one()
lat.length = 0
done = 0
const started = performance.now()
await Promise.all(Array.from({ length: Number(concurrency) }, worker))
const el = (performance.now() - started) / 1000
lat.sort((a, b) => a - b)
const p = (q) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))]
console.log(
  JSON.stringify({ url, rps: Math.round(done / el), p50: +p(0.5).toFixed(3), p99: +p(0.99).toFixed(3), errors })
)
agent.destroy()
