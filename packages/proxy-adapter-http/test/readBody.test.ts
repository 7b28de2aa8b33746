import { IncomingMessage } from "node:http"
import { Socket } from "node:net"
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { readBodyNow } from "../src/edge/readBody.js"

const request = () => new IncomingMessage(new Socket())

const read = (req: IncomingMessage, limit = 1_024) =>
  new Promise<Either.Either<Buffer, { _tag: string }>>((resolve) => {
    readBodyNow(req, limit, resolve)
  })

describe("readBodyNow", () => {
  it("the whole body, in one buffer", async () => {
    const req = request()
    const body = read(req)
    req.push("hello ")
    req.push("world")
    req.push(null)
    expect(Either.getOrThrow(await body).toString()).toBe("hello world")
  })

  it("a body past the limit is refused while it arrives", async () => {
    const req = request()
    const body = read(req, 4)
    req.push("hello")
    expect(Either.flip(await body).pipe(Either.getOrThrow)._tag).toBe("PayloadTooLarge")
  })

  it("a client gone before the body is read (while the request waited) is ClientGone at once, not a wait forever", async () => {
    const req = request()
    req.destroy()
    // Long gone: its 'close' was emitted before anyone listened.
    await new Promise((r) => setTimeout(r, 20))
    const outcome = await Promise.race([read(req), new Promise((r) => setTimeout(() => r("waiting"), 500))])
    expect(outcome).not.toBe("waiting")
    expect(Either.flip(outcome as Either.Either<Buffer, { _tag: string }>).pipe(Either.getOrThrow)._tag).toBe(
      "ClientGone"
    )
  })

  it("a client gone midway is ClientGone", async () => {
    const req = request()
    const body = read(req)
    req.push("partial")
    req.destroy()
    expect(Either.flip(await body).pipe(Either.getOrThrow)._tag).toBe("ClientGone")
  })
})
