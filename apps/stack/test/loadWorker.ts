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

/**
 * A TCP pass-through that can be stopped (listener closed, live connections destroyed) and
 * started again on the same port, run in a worker thread: unlike the in-process fault proxy, its
 * forwarding does not wait for the test process's event loop, so a busy test process does not
 * make the dependency behind it look slow.
 */
export interface WorkerLink {
  readonly host: string
  readonly port: number
  readonly stop: () => Promise<void>
  readonly start: () => Promise<void>
  readonly close: () => Promise<void>
}

const LINK = `
const { parentPort, workerData } = require("node:worker_threads")
const net = require("node:net")
const { targetHost, targetPort } = workerData
const sockets = new Set()
let server
const start = (port, reply) => {
  if (server) return reply(port)
  const s = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost)
    client.setNoDelay(true)
    upstream.setNoDelay(true)
    sockets.add(client)
    sockets.add(upstream)
    const drop = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream) }
    client.on("error", drop).on("close", drop)
    upstream.on("error", drop).on("close", drop)
    client.pipe(upstream)
    upstream.pipe(client)
  })
  s.listen(port, "127.0.0.1", () => { server = s; reply(s.address().port) })
}
const stop = (reply) => {
  const s = server
  server = undefined
  for (const socket of sockets) socket.destroy()
  sockets.clear()
  if (!s) return reply(0)
  s.close(() => reply(0))
}
parentPort.on("message", ({ op, id, port }) => {
  const reply = (p) => parentPort.postMessage({ id, port: p })
  if (op === "start") start(port, reply)
  else stop(reply)
})
`

export const workerLink = async (targetHost: string, targetPort: number): Promise<WorkerLink> => {
  const worker = new Worker(LINK, { eval: true, workerData: { targetHost, targetPort } })
  let nextId = 0
  const pending = new Map<number, (port: number) => void>()
  worker.on("message", ({ id, port }: { id: number; port: number }) => {
    pending.get(id)?.(port)
    pending.delete(id)
  })
  const send = (op: "start" | "stop", port = 0) =>
    new Promise<number>((resolve) => {
      const id = nextId++
      pending.set(id, resolve)
      worker.postMessage({ op, id, port })
    })
  const port = await send("start", 0)
  return {
    host: "127.0.0.1",
    port,
    stop: async () => {
      await send("stop")
    },
    start: async () => {
      await send("start", port)
    },
    close: async () => {
      await send("stop")
      await worker.terminate()
    }
  }
}
