import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { connect, createServer, type Server, type Socket } from "node:net"
import { Redis } from "ioredis"

/** Where the real-Redis suites run: REDIS_URL, else a throwaway redis-server, else skip. */
export const redisServerBinary = (() => {
  try {
    return execFileSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).trim() || undefined
  } catch {
    return undefined
  }
})()

export const redisAvailable = process.env.REDIS_URL !== undefined || redisServerBinary !== undefined
export const skipReason = "Redis suite skipped: REDIS_URL is unset and no redis-server binary is on PATH"

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer()
    s.once("error", reject)
    s.listen(0, "127.0.0.1", () => {
      const address = s.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      s.close(() => resolve(port))
    })
  })

const waitForPing = async (url: string, timeoutMs: number) => {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    c.on("error", () => {})
    try {
      await c.connect()
      if ((await c.ping()) === "PONG") return
    } catch {
      // not up yet
    } finally {
      c.disconnect()
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`redis at ${url} did not answer PING within ${timeoutMs} ms`)
}

/** A redis-server child process on a fixed port that can be killed and started again on that port. */
export interface ThrowawayRedis {
  readonly url: string
  readonly port: number
  readonly stop: () => Promise<void>
  readonly start: () => Promise<void>
}

export const throwawayRedis = async (): Promise<ThrowawayRedis> => {
  if (redisServerBinary === undefined) throw new Error("no redis-server binary")
  const port = await freePort()
  const url = `redis://127.0.0.1:${port}`
  let child: ChildProcess | undefined
  const start = async () => {
    if (child !== undefined) return
    child = spawn(
      redisServerBinary,
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"],
      { stdio: "ignore" }
    )
    await waitForPing(url, 5_000)
  }
  const stop = async () => {
    const c = child
    if (c === undefined) return
    child = undefined
    await new Promise<void>((resolve) => {
      if (c.exitCode !== null) return resolve()
      c.once("exit", () => resolve())
      c.kill("SIGKILL")
    })
  }
  await start()
  return { url, port, stop, start }
}

/**
 * A TCP pass-through in front of a Redis that can be cut (listener closed, live connections
 * destroyed: what a stopped server looks like to clients) and restored on the same port, without
 * touching the shared Redis other suites use.
 */
export interface FaultProxy {
  readonly url: string
  readonly stop: () => Promise<void>
  readonly start: () => Promise<void>
  readonly close: () => Promise<void>
}

export const faultProxy = async (targetUrl: string): Promise<FaultProxy> => {
  const target = new URL(targetUrl)
  const port = await freePort()
  const sockets = new Set<Socket>()
  let server: Server | undefined
  const start = () =>
    new Promise<void>((resolve, reject) => {
      if (server !== undefined) return resolve()
      const s = createServer((client) => {
        const upstream = connect(Number(target.port || 6379), target.hostname)
        sockets.add(client)
        sockets.add(upstream)
        const drop = () => {
          client.destroy()
          upstream.destroy()
          sockets.delete(client)
          sockets.delete(upstream)
        }
        client.on("error", drop).on("close", drop)
        upstream.on("error", drop).on("close", drop)
        client.pipe(upstream)
        upstream.pipe(client)
      })
      s.once("error", reject)
      s.listen(port, "127.0.0.1", () => {
        server = s
        resolve()
      })
    })
  const stop = () =>
    new Promise<void>((resolve) => {
      const s = server
      server = undefined
      for (const socket of sockets) socket.destroy()
      sockets.clear()
      if (s === undefined) return resolve()
      s.close(() => resolve())
    })
  await start()
  const auth = target.username || target.password ? `${target.username}:${target.password}@` : ""
  const db = target.pathname && target.pathname !== "/" ? target.pathname : ""
  return { url: `redis://${auth}127.0.0.1:${port}${db}`, stop, start, close: stop }
}

/** Deletes every key under `prefix` (SCAN, never KEYS). */
export const deletePrefix = async (url: string, prefix: string) => {
  const c = new Redis(url, { maxRetriesPerRequest: 1 })
  c.on("error", () => {})
  try {
    let cursor = "0"
    do {
      const [next, keys] = await c.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500)
      cursor = next
      if (keys.length > 0) await c.del(...keys)
    } while (cursor !== "0")
  } finally {
    c.disconnect()
  }
}
