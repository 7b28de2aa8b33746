import { connect, createServer, type Server, type Socket } from "node:net"
import { afterEach, describe, expect, it } from "vitest"
import { type FaultProxy, faultProxy } from "../src/faults/TcpFaultProxy.js"

/**
 * The fault proxy's silent blackhole, against a loopback echo server: half-open TCP looks like
 * silence (no bytes, no error, no close), not like a stopped server.
 */

interface Observed {
  readonly socket: Socket
  readonly received: () => string
  readonly closed: () => boolean
  readonly errored: () => boolean
  readonly connected: Promise<void>
}

const open = (proxy: FaultProxy): Observed => {
  const socket = connect(proxy.port, proxy.host)
  let received = ""
  let closed = false
  let errored = false
  socket.on("data", (b: Buffer) => {
    received += b.toString("utf8")
  })
  socket.on("close", () => {
    closed = true
  })
  socket.on("error", () => {
    errored = true
  })
  const connected = new Promise<void>((resolve) => socket.once("connect", () => resolve()))
  return { socket, received: () => received, closed: () => closed, errored: () => errored, connected }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Waits (bounded) until `done`, then returns whether it became true. */
const eventually = async (done: () => boolean, withinMs = 2_000) => {
  const until = performance.now() + withinMs
  while (!done() && performance.now() < until) await sleep(5)
  return done()
}

describe("faultProxy: silent blackhole", () => {
  let echo: Server | undefined
  let proxy: FaultProxy | undefined
  const serverSide = new Set<Socket>()
  const clients: Array<Socket> = []

  const setup = async () => {
    echo = createServer((s) => {
      serverSide.add(s)
      s.on("error", () => {})
      s.on("close", () => serverSide.delete(s))
      s.pipe(s)
    })
    await new Promise<void>((resolve) => echo?.listen(0, "127.0.0.1", () => resolve()))
    const address = echo.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    proxy = await faultProxy("127.0.0.1", port)
    return proxy
  }
  const track = (o: Observed) => {
    clients.push(o.socket)
    return o
  }

  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy()
    await proxy?.close()
    for (const s of serverSide) s.destroy()
    await new Promise<void>((resolve) => (echo === undefined ? resolve() : echo.close(() => resolve())))
    echo = undefined
    proxy = undefined
  })

  it("forwards, then forwards nothing either way without closing anything, then restores", async () => {
    const p = await setup()
    const live = track(open(p))
    await live.connected
    live.socket.write("before")
    expect(await eventually(() => live.received() === "before")).toBe(true)

    p.blackhole()
    live.socket.write("during")
    // A new connection is accepted (the handshake completes) but nothing comes back either.
    const late = track(open(p))
    await late.connected
    late.socket.write("late")
    // The echo server closing its side is not passed on either: a blackhole carries no FIN.
    const serverSockets = [...serverSide]
    expect(serverSockets.length).toBe(1)
    for (const s of serverSockets) s.destroy()
    await sleep(300)
    expect(live.received()).toBe("before")
    expect(late.received()).toBe("")
    expect([live.closed(), live.errored(), late.closed(), late.errored()]).toEqual([false, false, false, false])
    // Nothing sent during the silence reached the server: the only server socket was the first one.
    expect(serverSide.size).toBe(0)

    p.restore()
    // The silenced connections end (the client learns the path is gone) ...
    expect(await eventually(() => live.closed() && late.closed())).toBe(true)
    // ... and a new connection is forwarded normally.
    const fresh = track(open(p))
    await fresh.connected
    fresh.socket.write("after")
    expect(await eventually(() => fresh.received() === "after")).toBe(true)
  })

  it("a blackholed connection stays silent while the server keeps talking", async () => {
    const p = await setup()
    const live = track(open(p))
    await live.connected
    live.socket.write("x")
    expect(await eventually(() => live.received() === "x")).toBe(true)
    p.blackhole()
    for (const s of serverSide) s.write("unsolicited")
    await sleep(200)
    expect(live.received()).toBe("x")
    expect(live.closed()).toBe(false)
  })
})
