import { describe, expect, it } from "@effect/vitest"
import { describeRealInfra } from "@ibex/testkit/infra"
import { Redis } from "ioredis"
import { corkPerTurn } from "../src/corkPerTurn.js"
import { redisServerBinary, throwawayRedis } from "./redisTestSupport.js"

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

const fakeConnection = (status: string) => {
  const calls: Array<string> = []
  const stream = { cork: () => calls.push("cork"), uncork: () => calls.push("uncork") }
  return { connection: { status, stream }, calls }
}

describe("corkPerTurn", () => {
  it("corks once per event-loop turn and uncorks in the check phase", async () => {
    const { connection, calls } = fakeConnection("ready")
    const before = corkPerTurn(connection)
    for (let i = 0; i < 5; i++) before()
    expect(calls).toEqual(["cork"])
    await nextTurn()
    expect(calls).toEqual(["cork", "uncork"])
    before()
    before()
    await nextTurn()
    expect(calls).toEqual(["cork", "uncork", "cork", "uncork"])
  })

  it("leaves a connection that is not ready alone", async () => {
    const { connection, calls } = fakeConnection("reconnecting")
    const before = corkPerTurn(connection)
    before()
    await nextTurn()
    expect(calls).toEqual([])
  })

  it("uncorks the socket it corked when a reconnect replaced it within the turn", async () => {
    const first = fakeConnection("ready")
    const second = fakeConnection("ready")
    const connection = { status: "ready", stream: first.connection.stream }
    const before = corkPerTurn(connection)
    before()
    connection.stream = second.connection.stream
    before()
    await nextTurn()
    expect(first.calls).toEqual(["cork", "uncork"])
    expect(second.calls).toEqual([])
  })
})

const suite = describeRealInfra(redisServerBinary !== undefined, "no redis-server binary on PATH")

suite("corkPerTurn on an ioredis connection", () => {
  it("sends a turn's commands in one writev, each answered on its own", async () => {
    const server = await throwawayRedis()
    const client = new Redis(server.url, { enableAutoPipelining: false })
    try {
      await client.ping()
      const socket = client.stream as unknown as {
        _write: (...a: Array<unknown>) => void
        _writev: (...a: Array<unknown>) => void
      }
      let writes = 0
      let writevs = 0
      const write = socket._write.bind(socket)
      const writev = socket._writev.bind(socket)
      socket._write = (...a) => {
        writes++
        write(...a)
      }
      socket._writev = (...a) => {
        writevs++
        writev(...a)
      }
      const before = corkPerTurn(client)
      const replies = Array.from({ length: 50 }, (_, i) => {
        before()
        return client.incrby("cork:counter", i + 1)
      })
      // Each reply is the running sum at its place in the batch: order and atomicity are kept.
      expect(await Promise.all(replies)).toEqual(Array.from({ length: 50 }, (_, i) => ((i + 1) * (i + 2)) / 2))
      expect({ writes, writevs }).toEqual({ writes: 0, writevs: 1 })
    } finally {
      client.disconnect()
      await server.stop()
    }
  })
})
