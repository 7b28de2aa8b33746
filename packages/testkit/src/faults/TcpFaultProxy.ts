import { connect, createServer, type Server, type Socket } from "node:net"

/** A free loopback port (bound and released; good enough for tests on one machine). */
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

/**
 * A TCP pass-through in front of a dependency (Redis, Postgres) that can be cut — listener
 * closed and live connections destroyed, which is what a stopped server looks like to its
 * clients — and restored on the same port, without touching the shared server other suites use.
 */
export interface FaultProxy {
  readonly host: string
  readonly port: number
  readonly stop: () => Promise<void>
  readonly start: () => Promise<void>
  readonly close: () => Promise<void>
}

export const faultProxy = async (targetHost: string, targetPort: number): Promise<FaultProxy> => {
  const port = await freePort()
  const sockets = new Set<Socket>()
  let server: Server | undefined
  const start = () =>
    new Promise<void>((resolve, reject) => {
      if (server !== undefined) return resolve()
      const s = createServer((client) => {
        const upstream = connect(targetPort, targetHost)
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
  return { host: "127.0.0.1", port, stop, start, close: stop }
}

/** The same URL pointed at the fault proxy (user, password, path and query kept). */
export const urlThrough = (url: string, proxy: FaultProxy): string => {
  const u = new URL(url)
  u.hostname = proxy.host
  u.port = String(proxy.port)
  return u.toString()
}
