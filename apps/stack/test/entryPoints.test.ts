import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { type AddressInfo, createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { authEnvVars } from "@ibex/app-auth"
import { proxyEnvVars } from "@ibex/app-proxy"
import { ensureDevCertificates } from "@ibex/auth-adapter-grpc"
import { cliEnvVars } from "@ibex/cli"
import { afterAll, describe, expect, it } from "vitest"

/**
 * Every entry point as a person runs it (auth, proxy, `npm start`, the CLI, the smoke), from a
 * working directory of the test's own: a configuration failure is one JSON line naming each
 * invalid variable, no invalid value is replaced by a default, and `.env` in the working
 * directory is read with the environment taking precedence.
 */
const root = fileURLToPath(new URL("../../../", import.meta.url))
const tsx = join(root, "node_modules/.bin/tsx")
// The services as production runs them: the compiled bundles (`npm run build`, run by globalSetup).
const entryPoints = {
  auth: [process.execPath, join(root, "dist/apps/auth/main.mjs")],
  proxy: [process.execPath, join(root, "dist/apps/proxy/main.mjs")],
  stack: [process.execPath, join(root, "dist/apps/stack/main.mjs")],
  cli: [process.execPath, join(root, "apps/cli/bin/ibex.mjs")],
  smoke: [tsx, join(root, "apps/stack/src/smoke.ts")]
} as const

/** The product's own variables are removed from the inherited environment (CI sets some). */
const productVars = new Set(
  [...authEnvVars, ...proxyEnvVars, ...cliEnvVars].map((v) => v.name).concat(["IBEX_AGENT_ID", "PROXY_URL"])
)
const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !productVars.has(k)))

const work = mkdtempSync(join(tmpdir(), "ibex-entry-"))
afterAll(() => rmSync(work, { recursive: true, force: true }))
/** A fresh working directory, with a `.env` when given. */
const workDir = (dotenv?: string) => {
  const path = mkdtempSync(join(work, "cwd-"))
  if (dotenv !== undefined) writeFileSync(join(path, ".env"), dotenv)
  return path
}

interface Run {
  readonly code: number | null
  readonly lines: ReadonlyArray<string>
}

const run = (
  entry: keyof typeof entryPoints,
  env: Record<string, string>,
  options: { cwd?: string; args?: ReadonlyArray<string> } = {}
): Promise<Run> =>
  new Promise((resolve) => {
    const [command, script] = entryPoints[entry]
    const cwd = options.cwd ?? workDir()
    const child = spawn(command, [script, ...(options.args ?? [])], {
      cwd,
      // Data folders and peppers of `npm start` land in the throwaway directory.
      env: { ...cleanEnv(), IBEX_DATA_DIR: join(cwd, "pgdata"), ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    const collect = (c: Buffer) => {
      out += c.toString("utf8")
    }
    child.stdout.on("data", collect)
    child.stderr.on("data", collect)
    const killer = setTimeout(() => child.kill("SIGKILL"), 60_000)
    child.once("exit", (code) => {
      clearTimeout(killer)
      resolve({ code, lines: out.split("\n").filter((l) => l.trim() !== "") })
    })
  })

interface ConfigInvalidLine {
  readonly event: string
  readonly service: string
  readonly invalid: ReadonlyArray<{ readonly variable: string; readonly reason: string }>
}

/** The run printed exactly one line, the config_invalid record; answers it. */
const theConfigLine = (r: Run): ConfigInvalidLine => {
  expect(r.lines, r.lines.join("\n")).toHaveLength(1)
  const line = JSON.parse(r.lines[0]!) as ConfigInvalidLine
  expect(line.event).toBe("config_invalid")
  return line
}
const reasonOf = (line: ConfigInvalidLine, variable: string) =>
  line.invalid.find((i) => i.variable === variable)?.reason

describe("configuration errors: one JSON line naming every invalid variable", () => {
  it("auth: a missing pepper with DATABASE_URL, and several bad values at once", async () => {
    const noPepper = await run("auth", { DATABASE_URL: "postgres://ibex@127.0.0.1:1/ibex" })
    expect(noPepper.code).toBe(1)
    const line = theConfigLine(noPepper)
    expect(line.service).toBe("auth")
    expect(reasonOf(line, "IBEX_TOKEN_PEPPER")).toMatch(/required with DATABASE_URL/)
    expect(noPepper.lines[0]).not.toContain("127.0.0.1:1/ibex")

    const several = await run("auth", {
      AUTH_GRPC_PORT: "abc",
      ARGON2_TIME_COST: "0",
      LOG_LEVEL: "loud",
      AUTH_GRPC_INSECURE: "true"
    })
    expect(several.code).toBe(1)
    const all = theConfigLine(several)
    expect(all.invalid.map((i) => i.variable).sort()).toEqual(["ARGON2_TIME_COST", "AUTH_GRPC_PORT", "LOG_LEVEL"])
    expect(reasonOf(all, "AUTH_GRPC_PORT")).toContain("integer")
  }, 120_000)

  it("proxy: every bad value named, as JSON (not the runtime's pretty error)", async () => {
    const r = await run("proxy", {
      AUTH_TIMEOUT_MS: "abc",
      PROXY_PORT: "99999",
      AUTH_GRPC_TARGET: "nowhere",
      AUTH_GRPC_INSECURE: "true"
    })
    expect(r.code).toBe(1)
    const line = theConfigLine(r)
    expect(line.service).toBe("proxy")
    expect(line.invalid.map((i) => i.variable).sort()).toEqual(["AUTH_GRPC_TARGET", "AUTH_TIMEOUT_MS", "PROXY_PORT"])
  }, 60_000)

  it("auth and proxy: no certificates and no AUTH_GRPC_INSECURE=true is refused (never plaintext by accident)", async () => {
    const auth = theConfigLine(await run("auth", {}))
    expect(auth.invalid.map((i) => i.variable).sort()).toEqual([
      "AUTH_TLS_CERT_FILE",
      "AUTH_TLS_KEY_FILE",
      "IBEX_TLS_CA_FILE"
    ])
    expect(reasonOf(auth, "AUTH_TLS_CERT_FILE")).toMatch(/mutual TLS.*AUTH_GRPC_INSECURE=true/)
    const proxy = theConfigLine(await run("proxy", {}))
    expect(proxy.invalid.map((i) => i.variable).sort()).toEqual([
      "IBEX_TLS_CA_FILE",
      "PROXY_TLS_CERT_FILE",
      "PROXY_TLS_KEY_FILE"
    ])
    // Part of a side's files, or one that cannot be read: each named.
    const partial = theConfigLine(
      await run("proxy", { IBEX_TLS_CA_FILE: "/nonexistent/ca.pem", PROXY_TLS_CERT_FILE: "/nonexistent/p.pem" })
    )
    expect(partial.invalid.map((i) => i.variable).sort()).toEqual([
      "IBEX_TLS_CA_FILE",
      "PROXY_TLS_CERT_FILE",
      "PROXY_TLS_KEY_FILE"
    ])
    expect(reasonOf(partial, "IBEX_TLS_CA_FILE")).toContain("ENOENT")
    expect(reasonOf(partial, "PROXY_TLS_KEY_FILE")).toMatch(/required/)
  }, 120_000)

  it("proxy: a certificate auth would refuse (another role's) or a key that is not the certificate's is named at start", async () => {
    const certs = await ensureDevCertificates(join(work, "tls"))
    const wrongRole = theConfigLine(
      await run("proxy", {
        IBEX_TLS_CA_FILE: certs.caFile,
        PROXY_TLS_CERT_FILE: certs.cli.certFile,
        PROXY_TLS_KEY_FILE: certs.cli.keyFile
      })
    )
    expect(wrongRole.invalid.map((i) => i.variable)).toEqual(["PROXY_TLS_CERT_FILE"])
    expect(reasonOf(wrongRole, "PROXY_TLS_CERT_FILE")).toMatch(
      /not a proxy's.*spiffe:\/\/ibex\/proxy.*spiffe:\/\/ibex\/cli/
    )
    const mismatched = theConfigLine(
      await run("proxy", {
        IBEX_TLS_CA_FILE: certs.caFile,
        PROXY_TLS_CERT_FILE: certs.proxy.certFile,
        PROXY_TLS_KEY_FILE: certs.cli.keyFile
      })
    )
    expect(mismatched.invalid.map((i) => i.variable)).toEqual(["PROXY_TLS_CERT_FILE"])
    expect(reasonOf(mismatched, "PROXY_TLS_CERT_FILE")).toMatch(/PROXY_TLS_KEY_FILE.*cannot be used together/)
  }, 120_000)

  it("the CLI: a token command without a client certificate stops before sending the token (exit 2)", async () => {
    const r = await run("cli", { AUTH_GRPC_TARGET: "127.0.0.1:1" }, { args: ["token", "list", "--token", "x"] })
    expect(r.code).toBe(2)
    expect(r.lines.join("\n")).toMatch(/no client certificate for the auth service: set IBEX_CLI_TLS_CERT_FILE/)
  }, 60_000)

  it("npm start: AUTH_TIMEOUT_MS=abc is refused by name, not replaced by the development default", async () => {
    const r = await run("stack", { AUTH_TIMEOUT_MS: "abc", PROXY_PORT: "0", AUTH_GRPC_PORT: "0", AUTH_HTTP_PORT: "0" })
    expect(r.code).toBe(1)
    const line = theConfigLine(r)
    expect(line.service).toBe("stack")
    expect(reasonOf(line, "AUTH_TIMEOUT_MS")).toContain('"abc"')
  }, 60_000)

  it("the CLI: a bad AUTH_GRPC_TARGET is one line naming it, exit 2", async () => {
    const r = await run("cli", { AUTH_GRPC_TARGET: "not a target" }, { args: ["token", "list", "--token", "x"] })
    expect(r.code).toBe(2)
    const line = theConfigLine(r)
    expect(line.service).toBe("cli")
    expect(reasonOf(line, "AUTH_GRPC_TARGET")).toMatch(/host:port/)
  }, 60_000)
})

describe("start-up failures", () => {
  it("proxy: a port in use is a JSON line saying which port and why, never the runtime's pretty error", async () => {
    const busy = createServer()
    await new Promise<void>((ok) => busy.listen(0, "127.0.0.1", ok))
    try {
      const port = (busy.address() as AddressInfo).port
      const r = await run("proxy", {
        PROXY_HOST: "127.0.0.1",
        PROXY_PORT: String(port),
        AUTH_GRPC_TARGET: "127.0.0.1:1",
        AUTH_GRPC_INSECURE: "true"
      })
      expect(r.code).toBe(1)
      for (const line of r.lines) expect(() => JSON.parse(line), line).not.toThrow()
      const stopped = r.lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.event === "proxy_stopped")
      expect(stopped?.start_error).toEqual({ tag: "ProxyListenError", host: "127.0.0.1", port, code: "EADDRINUSE" })
    } finally {
      await new Promise((ok) => busy.close(ok))
    }
  }, 60_000)

  it("auth: a database that does not answer is a line naming the operation and the driver's code", async () => {
    const closed = createServer()
    await new Promise<void>((ok) => closed.listen(0, "127.0.0.1", ok))
    const port = (closed.address() as AddressInfo).port
    await new Promise((ok) => closed.close(ok))
    const r = await run("auth", {
      DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/postgres`,
      IBEX_TOKEN_PEPPER: "a-test-pepper-of-at-least-32-characters-long",
      AUTH_GRPC_INSECURE: "true",
      AUTH_GRPC_PORT: "0",
      AUTH_HTTP_PORT: "0"
    })
    expect(r.code).toBe(1)
    const stopped = r.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === "auth_stopped")
    expect(stopped?.start_error).toMatchObject({
      tag: "StoreUnavailable",
      operation: "PgClient.connect",
      detail: "ECONNREFUSED"
    })
  }, 60_000)

  it("npm start: a routes file that cannot be loaded is a line naming the file and every reason", async () => {
    const dir = workDir()
    const routes = join(dir, "routes.json")
    writeFileSync(routes, '{"providers": [{"id": "p", "kind": "nope"}], "models": []}')
    const r = await run("stack", {
      IBEX_ROUTES_FILE: routes,
      PROXY_PORT: "0",
      AUTH_GRPC_PORT: "0",
      AUTH_HTTP_PORT: "0"
    })
    expect(r.code).toBe(1)
    const stopped = r.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.event === "stack_stopped")
    const startError = stopped?.start_error as Record<string, unknown> | undefined
    expect(startError?.tag).toBe("RoutingLoadFailed")
    expect(startError?.source).toBe(`file:${routes}`)
    expect(startError?.message).toMatch(/providers\.0\.kind/)
  }, 60_000)
})

describe(".env in the working directory is loaded, the environment taking precedence", () => {
  it("auth, proxy and npm start read it (its invalid value is reported), and an exported value wins", async () => {
    const cases = [
      ["auth", "AUTH_GRPC_PORT"],
      ["proxy", "AUTH_TIMEOUT_MS"],
      ["stack", "AUTH_TIMEOUT_MS"]
    ] as const
    for (const [entry, variable] of cases) {
      const cwd = workDir(`# from .env\n${variable}=fromdotenv\n`)
      const fromFile = theConfigLine(await run(entry, {}, { cwd }))
      expect(reasonOf(fromFile, variable), entry).toContain('"fromdotenv"')
      const fromEnv = theConfigLine(await run(entry, { [variable]: "fromenv" }, { cwd }))
      expect(reasonOf(fromEnv, variable), entry).toContain('"fromenv"')
    }
  }, 240_000)

  it("the CLI reads it, and an exported value wins", async () => {
    const cwd = workDir("AUTH_GRPC_TARGET=from dotenv\n")
    const fromFile = await run("cli", {}, { cwd, args: ["token", "list", "--token", "x"] })
    expect(reasonOf(theConfigLine(fromFile), "AUTH_GRPC_TARGET")).toMatch(/host:port/)
    // The exported (valid, unreachable) target wins: no configuration error, a connection failure.
    const fromEnv = await run(
      "cli",
      { AUTH_GRPC_TARGET: "127.0.0.1:1", AUTH_GRPC_INSECURE: "true" },
      { cwd, args: ["token", "list", "--token", "x"] }
    )
    expect(fromEnv.code, fromEnv.lines.join("\n")).toBe(1)
    expect(fromEnv.lines.join("\n")).not.toContain("config_invalid")
  }, 120_000)

  it("npm run smoke reads its token, agent and URL from it", async () => {
    const without = await run("smoke", {})
    expect(without.code, "no token: refuses").toBe(2)
    const cwd = workDir("PROXY_URL=http://127.0.0.1:1\nIBEX_TOKEN=ibex_pat_x\nIBEX_AGENT_ID=agent\n")
    const withFile = await run("smoke", {}, { cwd })
    // It ran its checks against PROXY_URL from .env (nothing listens there, so they fail).
    expect(withFile.code, withFile.lines.join("\n")).toBe(1)
    expect(withFile.lines.join("\n")).toContain("failed")
  }, 120_000)
})
