// Same loop as load.mjs, with the bench token and agent header (GET auth-probe).
import http from "node:http"

const [url, seconds = "4", concurrency = "16"] = process.argv.slice(2)
const u = new URL(url)
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(concurrency) })
const headers = { authorization: "Bearer bench-token", "x-ibex-agent-id": "0190a0b0-0000-7000-8000-0000000000a1" }
const lat = []
let done = 0,
  errors = 0,
  non200 = 0
const end = performance.now() + Number(seconds) * 1000
const one = () =>
  new Promise((resolve) => {
    const t = performance.now()
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, agent, headers }, (res) => {
      if (res.statusCode !== 200) non200++
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
const w = performance.now()
while (performance.now() - w < 500) await one()
lat.length = 0
done = 0
non200 = 0
const started = performance.now()
await Promise.all(Array.from({ length: Number(concurrency) }, worker))
const el = (performance.now() - started) / 1000
lat.sort((a, b) => a - b)
const p = (q) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))]
console.log(
  JSON.stringify({ url, rps: Math.round(done / el), p50: +p(0.5).toFixed(3), p99: +p(0.99).toFixed(3), errors, non200 })
)
agent.destroy()
