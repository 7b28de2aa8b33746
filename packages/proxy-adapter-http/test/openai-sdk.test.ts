import OpenAI, { APIError } from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startMemoryProxy, type Wire } from "./harness.js"

/** The official client, pointed at the proxy with a PAT and the agent header, reads our envelope. */
describe("official openai npm client", () => {
  let env: Awaited<ReturnType<typeof startMemoryProxy>>
  let org: Wire
  beforeAll(async () => {
    env = await startMemoryProxy()
    org = (await env.twoOrgs()).orgA
  })
  afterAll(async () => {
    await env?.close()
  })

  const client = (apiKey: string, agentId: string) =>
    new OpenAI({
      baseURL: `${env.url}/v1`,
      apiKey,
      defaultHeaders: { "X-IBEX-Agent-ID": agentId },
      maxRetries: 0
    })

  it("receives the 501 as an APIError whose code is PROVIDER_NOT_CONFIGURED", async () => {
    const error = await client(org.tokens.full, org.agentId)
      .chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello" }] })
      .then(
        () => undefined,
        (e: unknown) => e
      )
    expect(error).toBeInstanceOf(APIError)
    const api = error as APIError
    expect(api.status).toBe(501)
    expect(api.code).toBe("PROVIDER_NOT_CONFIGURED")
    expect(api.type).toBe("not_implemented_error")
    expect(api.requestID ?? api.headers?.get("x-request-id")).toBeTruthy()
  })

  it("a streaming request gets the same 501, and a bad token an AuthenticationError with INVALID_TOKEN", async () => {
    const streaming = await client(org.tokens.full, org.agentId)
      .chat.completions.create({ model: "gpt-4o-mini", stream: true, messages: [{ role: "user", content: "hi" }] })
      .then(
        () => undefined,
        (e: unknown) => e
      )
    expect((streaming as APIError).status).toBe(501)
    expect((streaming as APIError).code).toBe("PROVIDER_NOT_CONFIGURED")
    const denied = await client("ibex_pat_wrong", org.agentId)
      .chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] })
      .then(
        () => undefined,
        (e: unknown) => e
      )
    expect(denied).toBeInstanceOf(OpenAI.AuthenticationError)
    expect((denied as APIError).code).toBe("INVALID_TOKEN")
  })
})
