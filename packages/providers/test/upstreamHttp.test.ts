import { defaultTimeouts } from "@ibex/domain"
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { makeUpstreamHttp } from "../src/index.js"

describe("UpstreamHttp.postNow", () => {
  it("a URL that does not parse is the attempt's connect failure, answered through the callback, not thrown", async () => {
    const http = makeUpstreamHttp()
    const result = await new Promise<Either.Either<unknown, { _tag: string; detail?: string }>>((resolve) =>
      http.postNow(
        {
          providerId: "p",
          url: "not a url",
          headers: {},
          body: "{}",
          timeouts: defaultTimeouts,
          signal: new AbortController().signal
        },
        resolve
      )
    )
    expect(Either.isLeft(result) && [result.left._tag, result.left.detail]).toEqual([
      "UpstreamConnectFailed",
      "invalid URL"
    ])
  })
})
