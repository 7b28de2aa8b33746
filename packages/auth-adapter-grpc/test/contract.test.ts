/**
 * Pins the wire contract of ibex.auth.v1 (proto/ibex/auth/v1/auth.proto) as the generated
 * TypeScript sees it. The expected bytes below were worked out by hand from the protobuf
 * encoding rules (tag = field_number << 3 | wire_type), not produced by the encoder under
 * test: if a field number, a wire type or the 64-bit handling changes, these fail.
 */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import {
  AgentStatus,
  AuthServiceClient,
  AuthServiceService,
  CreateTokenRequest,
  CreateTokenResponse,
  ErrorReason,
  ListTokensRequest,
  ListTokensResponse,
  protobufPackage,
  RevokeTokenRequest,
  RevokeTokenResponse,
  TokenInfo,
  ValidateTokenRequest,
  ValidateTokenResponse,
  VerifyAgentRequest,
  VerifyAgentResponse
} from "../src/gen/ibex/auth/v1/auth.js"

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex")
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"))

const PROTO_PATH = new URL("../../../proto/ibex/auth/v1/auth.proto", import.meta.url)
const protoText = readFileSync(PROTO_PATH, "utf8")

const TWO_63_PLUS_5 = 2n ** 63n + 5n
const UINT64_MAX = 2n ** 64n - 1n

/** Field names (lowercase) of one top-level message of the proto file, comments stripped. */
const protoFieldNames = (message: string): Array<string> => {
  const withoutComments = protoText.replace(/\/\/[^\n]*/g, "")
  const block = new RegExp(`message\\s+${message}\\s*\\{([^}]*)\\}`).exec(withoutComments)?.[1]
  if (block === undefined) throw new Error(`message ${message} not found in auth.proto`)
  return [...block.matchAll(/^\s*(?:repeated\s+|optional\s+)?[\w.]+\s+(\w+)\s*=\s*\d+\s*;/gm)].map((m) =>
    (m[1] ?? "").toLowerCase()
  )
}

const tokenInfo: TokenInfo = {
  id: "i",
  orgId: "o",
  name: "n",
  displayPrefix: "p",
  permissions: 3n,
  createdAt: new Date(1_000),
  expiresAt: new Date(2_000),
  revokedAt: new Date(3_000),
  lastUsedAt: new Date(4_000),
  createdBy: "u"
}
// 0a 01 'i' | 12 01 'o' | 1a 01 'n' | 22 01 'p' | 28 03 | 32 {08 01} | 3a {08 02} | 42 {08 03} | 4a {08 04} | 52 01 'u'
const TOKEN_INFO_HEX = "0a016912016f1a016e2201702803320208013a020802420208034a020804520175"

describe("ibex.auth.v1 wire shape", () => {
  it("is the ibex.auth.v1 package", () => {
    expect(protobufPackage).toBe("ibex.auth.v1")
  })

  it("ValidateTokenRequest: token = 1", () => {
    const bytes = ValidateTokenRequest.encode({ token: "ibex_pat_x" }).finish()
    expect(hex(bytes)).toBe("0a0a696265785f7061745f78")
    expect(ValidateTokenRequest.decode(bytes)).toEqual({ token: "ibex_pat_x" })
  })

  it("ValidateTokenResponse: fields 1..5, uint64 permissions above 2^63 without precision loss", () => {
    const message: ValidateTokenResponse = {
      orgId: "o",
      tokenId: "t",
      permissions: TWO_63_PLUS_5,
      expiresAt: new Date(1_700_000_000_000),
      rateLimitPerMinute: 60
    }
    const bytes = ValidateTokenResponse.encode(message).finish()
    // 0a 01 'o' | 12 01 't' | 18 <10-byte varint of 2^63+5> | 22 06 {08 <1700000000>} | 28 3c
    expect(hex(bytes)).toBe("0a016f120174188580808080808080800122060880e2cfaa06283c")
    const decoded = ValidateTokenResponse.decode(bytes)
    expect(decoded).toEqual(message)
    expect(typeof decoded.permissions).toBe("bigint")
    expect(decoded.permissions).toBe(TWO_63_PLUS_5)
    expect(decoded.permissions === TWO_63_PLUS_5).toBe(true)
  })

  it("ValidateTokenResponse: the full uint64 range round-trips", () => {
    for (const permissions of [0n, 1n, 2n ** 53n + 1n, 2n ** 63n, UINT64_MAX]) {
      const bytes = ValidateTokenResponse.encode(ValidateTokenResponse.create({ permissions })).finish()
      expect(ValidateTokenResponse.decode(bytes).permissions).toBe(permissions)
    }
  })

  it("ValidateTokenResponse: defaults are absent on the wire; unset expires_at means never", () => {
    const empty = ValidateTokenResponse.create({})
    expect(hex(ValidateTokenResponse.encode(empty).finish())).toBe("")
    const decoded = ValidateTokenResponse.decode(new Uint8Array())
    expect(decoded.expiresAt).toBeUndefined()
    expect(decoded.permissions).toBe(0n)
    expect(decoded.rateLimitPerMinute).toBe(0)
  })

  it("VerifyAgentRequest: org_id = 1, agent_id = 2", () => {
    const bytes = VerifyAgentRequest.encode({ orgId: "o", agentId: "a" }).finish()
    expect(hex(bytes)).toBe("0a016f120161")
  })

  it("VerifyAgentResponse: agent_id = 1, org_id = 2, status = 3 (enum varint)", () => {
    const message: VerifyAgentResponse = { agentId: "a", orgId: "o", status: AgentStatus.AGENT_STATUS_SUSPENDED }
    const bytes = VerifyAgentResponse.encode(message).finish()
    expect(hex(bytes)).toBe("0a016112016f1804")
    expect(VerifyAgentResponse.decode(bytes)).toEqual(message)
  })

  it("VerifyAgentResponse: an enum value this client does not know still decodes (open enum)", () => {
    expect(VerifyAgentResponse.decode(unhex("1809")).status).toBe(9)
  })

  it("CreateTokenRequest: name = 1, permissions = 2 (uint64), expires_at = 3 (Timestamp with nanos)", () => {
    const message: CreateTokenRequest = {
      name: "ci",
      permissions: UINT64_MAX,
      expiresAt: new Date(1_700_000_000_500)
    }
    const bytes = CreateTokenRequest.encode(message).finish()
    // 0a 02 'ci' | 10 ff*9 01 | 1a 0c {08 <1700000000> 10 <500000000>}
    expect(hex(bytes)).toBe("0a02636910ffffffffffffffffff011a0c0880e2cfaa061080cab5ee01")
    expect(CreateTokenRequest.decode(bytes)).toEqual(message)
    const noExpiry = CreateTokenRequest.decode(CreateTokenRequest.encode({ name: "ci", permissions: 1n }).finish())
    expect(noExpiry.expiresAt).toBeUndefined()
  })

  it("TokenInfo: fields 1..10", () => {
    const bytes = TokenInfo.encode(tokenInfo).finish()
    expect(hex(bytes)).toBe(TOKEN_INFO_HEX)
    expect(TokenInfo.decode(bytes)).toEqual(tokenInfo)
  })

  it("CreateTokenResponse: token = 1, info = 2", () => {
    const bytes = CreateTokenResponse.encode({ token: "tok", info: tokenInfo }).finish()
    expect(hex(bytes)).toBe(`0a03746f6b1221${TOKEN_INFO_HEX}`)
    expect(CreateTokenResponse.decode(bytes)).toEqual({ token: "tok", info: tokenInfo })
  })

  it("RevokeTokenRequest: token_id = 1; RevokeTokenResponse: info = 1", () => {
    expect(hex(RevokeTokenRequest.encode({ tokenId: "i" }).finish())).toBe("0a0169")
    const info = TokenInfo.create({ id: "i" })
    expect(hex(RevokeTokenResponse.encode({ info }).finish())).toBe("0a030a0169")
  })

  it("ListTokensRequest: page_size = 1, page_token = 2", () => {
    const bytes = ListTokensRequest.encode({ pageSize: 25, pageToken: "c" }).finish()
    expect(hex(bytes)).toBe("0819120163")
  })

  it("ListTokensResponse: repeated tokens = 1, next_page_token = 2", () => {
    const message = ListTokensResponse.create({
      tokens: [TokenInfo.create({ id: "a" }), TokenInfo.create({ id: "b" })],
      nextPageToken: "n"
    })
    const bytes = ListTokensResponse.encode(message).finish()
    expect(hex(bytes)).toBe("0a030a01610a030a016212016e")
    expect(ListTokensResponse.decode(bytes).tokens.map((t) => t.id)).toEqual(["a", "b"])
  })

  it("AgentStatus values are stable", () => {
    expect({ ...AgentStatus }).toEqual({
      AGENT_STATUS_UNSPECIFIED: 0,
      AGENT_STATUS_ACTIVE: 1,
      AGENT_STATUS_PAUSED: 2,
      AGENT_STATUS_ARCHIVED: 3,
      AGENT_STATUS_SUSPENDED: 4,
      UNRECOGNIZED: -1
    })
  })

  it("ErrorReason values are stable and name the ibex-reason trailer values", () => {
    expect({ ...ErrorReason }).toEqual({
      ERROR_REASON_UNSPECIFIED: 0,
      ERROR_REASON_AGENT_NOT_AUTHORIZED: 1,
      ERROR_REASON_AGENT_SUSPENDED: 2,
      ERROR_REASON_INSUFFICIENT_PERMISSIONS: 3,
      ERROR_REASON_VALIDATION_FAILED: 4,
      ERROR_REASON_NOT_FOUND: 5,
      UNRECOGNIZED: -1
    })
    expect(protoText).toContain("`ibex-reason`")
    expect(protoText).toContain("ibex-reason: AGENT_NOT_AUTHORIZED")
    expect(protoText).toContain("ibex-reason: AGENT_SUSPENDED")
  })
})

describe("ibex.auth.v1.AuthService definition", () => {
  const expected = {
    validateToken: "/ibex.auth.v1.AuthService/ValidateToken",
    verifyAgent: "/ibex.auth.v1.AuthService/VerifyAgent",
    createToken: "/ibex.auth.v1.AuthService/CreateToken",
    revokeToken: "/ibex.auth.v1.AuthService/RevokeToken",
    listTokens: "/ibex.auth.v1.AuthService/ListTokens",
    authorize: "/ibex.auth.v1.AuthService/Authorize"
  } as const

  it("has exactly the six unary methods and one server stream at their stable paths", () => {
    expect(Object.keys(AuthServiceService).sort()).toEqual([...Object.keys(expected), "watchInvalidations"].sort())
    for (const [name, path] of Object.entries(expected)) {
      const method = AuthServiceService[name as keyof typeof expected]
      expect(method.path).toBe(path)
      expect(method.requestStream).toBe(false)
      expect(method.responseStream).toBe(false)
    }
    const watch = AuthServiceService.watchInvalidations
    expect(watch.path).toBe("/ibex.auth.v1.AuthService/WatchInvalidations")
    expect([watch.requestStream, watch.responseStream]).toEqual([false, true])
  })

  it("serializes through the generated codecs", () => {
    const method = AuthServiceService.validateToken
    const request = method.requestSerialize({ token: "ibex_pat_x" })
    expect(request.toString("hex")).toBe("0a0a696265785f7061745f78")
    expect(method.requestDeserialize(request)).toEqual({ token: "ibex_pat_x" })
    const response = method.responseSerialize(ValidateTokenResponse.create({ permissions: TWO_63_PLUS_5 }))
    expect(method.responseDeserialize(response).permissions).toBe(TWO_63_PLUS_5)
  })

  it("the client constructor is bound to the service", () => {
    expect(AuthServiceClient.serviceName).toBe("ibex.auth.v1.AuthService")
    expect(AuthServiceClient.service).toBe(AuthServiceService)
    expect(typeof AuthServiceClient.prototype.validateToken).toBe("function")
    expect(typeof AuthServiceClient.prototype.verifyAgent).toBe("function")
  })
})

describe("auth.proto never exposes secrets", () => {
  it("TokenInfo has no hash, secret or plaintext field", () => {
    const fields = protoFieldNames("TokenInfo")
    expect(fields).toEqual([
      "id",
      "org_id",
      "name",
      "display_prefix",
      "permissions",
      "created_at",
      "expires_at",
      "revoked_at",
      "last_used_at",
      "created_by"
    ])
    for (const field of fields) expect(field).not.toMatch(/hash|secret|plaintext|password/)
  })

  it("no message has a field named like a hash or secret", () => {
    const messages = [...protoText.matchAll(/^message\s+(\w+)/gm)].map((m) => m[1] ?? "")
    expect(messages.length).toBeGreaterThanOrEqual(11)
    for (const message of messages) {
      for (const field of protoFieldNames(message)) expect(field).not.toMatch(/hash|secret|password/)
    }
  })

  it("a plaintext token travels only in the two requests that check one and in CreateTokenResponse.token", () => {
    const messages = [...protoText.matchAll(/^message\s+(\w+)/gm)].map((m) => m[1] ?? "")
    const carriers = messages.filter((message) => protoFieldNames(message).includes("token"))
    expect(carriers.sort()).toEqual(["AuthorizeRequest", "CreateTokenResponse", "ValidateTokenRequest"])
  })
})
