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
 * A TCP pass-through in front of a dependency (Redis, Postgres, a gRPC server) that can be cut —
 * listener closed and live connections destroyed, which is what a stopped server looks like to its
 * clients — and restored on the same port, without touching the shared server other suites use.
 *
 * It can also be silenced: `blackhole()` keeps every connection open and accepts new ones, but
 * forwards nothing in either direction and closes nothing. That is half-open TCP (a dropped
 * route, a dead peer whose kernel never answered): no error, no close, only silence. `restore()`
 * destroys the silenced connections (what a client eventually sees when the path heals under a
 * dead connection) and forwards new ones normally.
 */
export interface FaultProxy {
  readonly host: string
  readonly port: number
  readonly stop: () => Promise<void>
  readonly start: () => Promise<void>
  /** Silence every connection, open and new: bytes are read and dropped, nothing is closed. */
  readonly blackhole: () => void
  /** End the silence: the silenced connections are destroyed, new ones are forwarded. */
  readonly restore: () => void
  readonly close: () => Promise<void>
}

export const faultProxy = async (targetHost: string, targetPort: number): Promise<FaultProxy> => {
  const port = await freePort()
  const sockets = new Set<Socket>()
  let server: Server | undefined
  let silent = false
  /** Hold a socket open and swallow what it sends (flowing mode, no destination). */
  const swallow = (socket: Socket) => {
    socket.unpipe()
    socket.removeAllListeners("data")
    socket.on("data", () => {})
    socket.resume()
  }
  const start = () =>
    new Promise<void>((resolve, reject) => {
      if (server !== undefined) return resolve()
      const s = createServer((client) => {
        if (silent) {
          // Accepted, then nothing: no upstream, no answer, no close.
          sockets.add(client)
          client.on("error", () => client.destroy())
          client.on("close", () => sockets.delete(client))
          swallow(client)
          return
        }
        const upstream = connect(targetPort, targetHost)
        sockets.add(client)
        sockets.add(upstream)
        const drop = () => {
          client.destroy()
          upstream.destroy()
          sockets.delete(client)
          sockets.delete(upstream)
        }
        // While silent, one side ending is not passed on to the other: a blackhole carries no FIN or RST.
        const dropUnlessSilent = (side: Socket) => () => {
          if (!silent) return drop()
          side.destroy()
          sockets.delete(side)
        }
        client.on("error", dropUnlessSilent(client)).on("close", dropUnlessSilent(client))
        upstream.on("error", dropUnlessSilent(upstream)).on("close", dropUnlessSilent(upstream))
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
  const blackhole = () => {
    silent = true
    for (const socket of sockets) swallow(socket)
  }
  const restore = () => {
    if (!silent) return
    silent = false
    for (const socket of sockets) socket.destroy()
    sockets.clear()
  }
  const close = async () => {
    silent = false
    await stop()
  }
  await start()
  return { host: "127.0.0.1", port, stop, start, blackhole, restore, close }
}

/** The same URL pointed at the fault proxy (user, password, path and query kept). */
export const urlThrough = (url: string, proxy: FaultProxy): string => {
  const u = new URL(url)
  u.hostname = proxy.host
  u.port = String(proxy.port)
  return u.toString()
}
