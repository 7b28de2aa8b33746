import { Worker } from "node:worker_threads"

/**
 * Background HTTP load from a worker thread (its own event loop, so the load generator does not
 * compete with the proxies and auth instances for the test process's event loop): `concurrency`
 * keep-alive clients, each sending its next request when the previous one is answered, until
 * stopped, `maxRequests` in all, or `maxMs` — whichever comes first. Loopback only.
 */
export interface LoadResult {
  readonly sent: number
  readonly ms: number
  readonly statuses: Readonly<Record<string, number>>
}

export interface Load {
  readonly stop: () => Promise<LoadResult>
}

const WORKER = `
const { parentPort, workerData } = require("node:worker_threads")
const http = require("node:http")
const { url, headers, concurrency, maxRequests, maxMs } = workerData
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency })
const statuses = {}
const started = Date.now()
let sent = 0
let stop = false
parentPort.on("message", (m) => { if (m === "stop") stop = true })
const count = (k) => { statuses[k] = (statuses[k] || 0) + 1 }
const one = () => new Promise((resolve) => {
  const req = http.request(url, { agent, headers }, (res) => {
    res.resume()
    res.on("end", () => { count(String(res.statusCode)); resolve() })
    res.on("error", () => { count("error"); resolve() })
  })
  req.on("error", () => { count("error"); setTimeout(resolve, 10) })
  req.end()
})
const client = async () => {
  while (!stop && sent < maxRequests && Date.now() - started < maxMs) {
    sent++
    await one()
  }
}
Promise.all(Array.from({ length: concurrency }, client)).then(() => {
  agent.destroy()
  parentPort.postMessage({ sent, ms: Date.now() - started, statuses })
})
`

export const startLoad = (options: {
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly concurrency: number
  readonly maxRequests: number
  readonly maxMs: number
}): Load => {
  if (new URL(options.url).hostname !== "127.0.0.1") throw new Error("load: loopback only")
  const worker = new Worker(WORKER, { eval: true, workerData: options })
  const done = new Promise<LoadResult>((resolve, reject) => {
    worker.once("message", (result: LoadResult) => resolve(result))
    worker.once("error", reject)
  })
  return {
    stop: async () => {
      worker.postMessage("stop")
      const result = await done
      await worker.terminate()
      return result
    }
  }
}
