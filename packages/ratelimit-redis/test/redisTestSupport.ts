import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type FaultProxy, faultProxy, freePort, urlThrough } from "@ibex/testkit/faults"
import { UsageLedgerEmpty } from "@ibex/testkit/upstream"
import { Effect } from "effect"
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

export const throwawayRedis = async (options: { readonly cluster?: boolean } = {}): Promise<ThrowawayRedis> => {
  if (redisServerBinary === undefined) throw new Error("no redis-server binary")
  const port = await freePort()
  // Cluster mode (no slots assigned: enough for CLUSTER KEYSLOT) writes its node file here.
  const nodesFile = join(tmpdir(), `ibex-redis-nodes-${port}-${process.pid}.conf`)
  const clusterArgs = options.cluster ? ["--cluster-enabled", "yes", "--cluster-config-file", nodesFile] : []
  const url = `redis://127.0.0.1:${port}`
  let child: ChildProcess | undefined
  const start = async () => {
    if (child !== undefined) return
    child = spawn(
      redisServerBinary,
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        ...clusterArgs
      ],
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
    if (options.cluster) rmSync(nodesFile, { force: true })
  }
  await start()
  return { url, port, stop, start }
}

/** A fault proxy in front of a Redis URL: `url` goes through it, `stop` / `start` cut and restore it. */
export interface RedisFaultProxy extends FaultProxy {
  readonly url: string
}

export const redisFaultProxy = async (targetUrl: string): Promise<RedisFaultProxy> => {
  const target = new URL(targetUrl)
  const proxy = await faultProxy(target.hostname, Number(target.port || 6379))
  return { ...proxy, url: urlThrough(targetUrl, proxy) }
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

/** CRC16/XMODEM (polynomial 0x1021, initial value 0), the checksum Redis Cluster hashes keys with. */
export const crc16 = (bytes: Uint8Array): number => {
  let crc = 0
  for (const byte of bytes) {
    crc ^= byte << 8
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc
}

/**
 * A key's Redis Cluster slot, computed as the cluster specification defines HASH_SLOT: when the
 * key has a `{` and, after it, a `}` with at least one byte between them, only those bytes are
 * hashed (the hash tag); otherwise the whole key. CRC16 mod 16384.
 */
export const clusterKeySlot = (key: string): number => {
  const bytes = Buffer.from(key, "utf8")
  const open = bytes.indexOf(0x7b)
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1)
    if (close > open + 1) return crc16(bytes.subarray(open + 1, close)) % 16384
  }
  return crc16(bytes) % 16384
}

/** For tests of the request limiter alone: the usage limiter's ledger holds nothing. */
export const noLedger = Effect.provide(UsageLedgerEmpty)
