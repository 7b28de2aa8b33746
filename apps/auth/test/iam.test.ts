import { defaultArgon2Options, makeSecretHasherArgon2, totpHmac } from "@ibex/auth-adapter-grpc"
import { totpCounter } from "@ibex/domain"
import { Effect, Redacted } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  Browser,
  type IamEnvironment,
  iamEnvironment,
  newMember,
  newOrg,
  PASSWORD,
  signedInAdmin,
  uniqueEmail
} from "./iamHarness.js"
import { backends } from "./stack.js"

/**
 * Issue 15 over the real admin listener (a socket, cookies, CSRF), on the in-memory stores, Postgres
 * and PGlite: seed
 * 003's T4.1–T4.4, T5.1–T5.3 and T7.1–T7.3.
 */
const totpNow = (secret: string, skewSteps = 0) =>
  totpHmac.code(Redacted.make(secret), totpCounter(Date.now()) + skewSteps)

const linkToken = (env: IamEnvironment, to: string, param: string) => {
  const mail = env.mail.sent.findLast((m) => m.to === to)
  if (mail === undefined) return null
  return new URL(Redacted.value(mail.link).replace("#/", "")).searchParams.get(param)
}

for (const backend of ["memory" as const, ...backends]) {
  describe(`IAM HTTP API [${backend}]`, { timeout: 60_000 }, () => {
    let env: IamEnvironment
    let admin: Browser
    let orgA: string
    let orgB: string

    beforeAll(async () => {
      env = await iamEnvironment(backend)
      admin = await signedInAdmin(env)
      orgA = await newOrg(admin)
      orgB = await newOrg(admin)
    }, 120_000)
    afterAll(async () => {
      await env?.close()
    })

    it("T4.1 passwords are hashed with Argon2id and verified: the right password signs in, a wrong one does not", async () => {
      const hasher = makeSecretHasherArgon2(defaultArgon2Options)
      const hash = await Effect.runPromise(hasher.hash(Redacted.make(PASSWORD)))
      expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,/)
      expect(await Effect.runPromise(hasher.verify(hash, Redacted.make(PASSWORD)))).toBe(true)
      expect(await Effect.runPromise(hasher.verify(hash, Redacted.make(`${PASSWORD}!`)))).toBe(false)
      const member = await newMember(env, admin, orgA, "viewer")
      const ok = await new Browser(env.url).post("/v1/auth/signin", { email: member.email, password: PASSWORD })
      expect(ok.status).toBe(200)
      expect(ok.json.status).toBe("signed_in")
      expect(JSON.stringify(ok.json)).not.toContain(PASSWORD)
      const wrong = await new Browser(env.url).post("/v1/auth/signin", {
        email: member.email,
        password: "wrong password!!"
      })
      expect(wrong.status).toBe(401)
      expect(wrong.json.error.code).toBe("INVALID_CREDENTIALS")
    })

    it("sign-in failures are one answer (unknown e-mail = wrong password), and attempts per account answer 429 with Retry-After", async () => {
      const member = await newMember(env, admin, orgA, "viewer")
      const unknown = await new Browser(env.url).post("/v1/auth/signin", {
        email: uniqueEmail("nobody"),
        password: "x".repeat(12)
      })
      const wrong = await new Browser(env.url).post("/v1/auth/signin", {
        email: member.email,
        password: "y".repeat(12)
      })
      expect([unknown.status, unknown.json.error.code, unknown.json.error.message]).toEqual([
        wrong.status,
        wrong.json.error.code,
        wrong.json.error.message
      ])
      for (let i = 0; i < 4; i++)
        await new Browser(env.url).post("/v1/auth/signin", { email: member.email, password: "z".repeat(12) })
      const limited = await new Browser(env.url).post("/v1/auth/signin", { email: member.email, password: PASSWORD })
      expect(limited.status).toBe(429)
      expect(limited.json.error.code).toBe("TOO_MANY_ATTEMPTS")
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0)
    })

    it("T4.2 refresh token rotation: the old refresh token is invalid after use, and reusing it revokes the whole family", async () => {
      const b = await signedInAdmin(env)
      const first = b.jar.get("ibex_refresh") as string
      const r1 = await b.post("/v1/auth/refresh")
      expect(r1.status).toBe(200)
      const second = b.jar.get("ibex_refresh") as string
      expect(second).not.toBe(first)
      expect((await b.get("/v1/auth/me")).status).toBe(200)
      // Replay the spent token (after the race grace): refused, and the family (the new token and its session) dies with it.
      await new Promise((r) => setTimeout(r, 1_100))
      const thief = new Browser(env.url)
      thief.jar.set("ibex_refresh", first)
      thief.jar.set("ibex_csrf", b.jar.get("ibex_csrf") as string)
      const replay = await thief.post("/v1/auth/refresh")
      expect(replay.status).toBe(401)
      expect(replay.json.error.code).toBe("INVALID_REFRESH_TOKEN")
      expect((await b.post("/v1/auth/refresh")).status).toBe(401)
      expect((await b.get("/v1/auth/me")).status).toBe(401)
    })

    it("T4.2 concurrent use of one refresh token: exactly one request wins", async () => {
      const b = await signedInAdmin(env)
      const results = await Promise.all(
        Array.from({ length: 5 }, () => {
          const twin = new Browser(env.url)
          for (const [k, v] of b.jar) twin.jar.set(k, v)
          return twin.post("/v1/auth/refresh")
        })
      )
      expect(results.filter((r) => r.status === 200)).toHaveLength(1)
      expect(results.filter((r) => r.status === 401)).toHaveLength(4)
      // The winner's session lives on (the losers raced, they did not replay).
      const winner = results.find((r) => r.status === 200)
      expect(winner?.json.status).toBe("signed_in")
    })

    it("T4.3 forgot / reset tokens are one-time and expire; forgot answers the same for unknown e-mails", async () => {
      const member = await newMember(env, admin, orgA, "viewer")
      const before = env.mail.sent.length
      const unknown = await new Browser(env.url).post("/v1/auth/forgot", { email: uniqueEmail("ghost") })
      expect(unknown.status).toBe(202)
      const known = await new Browser(env.url).post("/v1/auth/forgot", { email: member.email })
      expect([known.status, known.json]).toEqual([unknown.status, unknown.json])
      await new Promise((r) => setTimeout(r, 50))
      expect(env.mail.sent.slice(before).map((m) => m.to)).toEqual([member.email])
      const token = linkToken(env, member.email, "token")
      const newPassword = "a brand new password"
      const reset = await new Browser(env.url).post("/v1/auth/reset", { token, password: newPassword })
      expect(reset.status).toBe(204)
      // One time: the same link again is refused.
      const again = await new Browser(env.url).post("/v1/auth/reset", { token, password: "yet another password" })
      expect(again.status).toBe(400)
      expect(again.json.error.code).toBe("INVALID_OR_EXPIRED_LINK")
      // The old session ended; the new password works.
      expect((await member.browser.get("/v1/auth/me")).status).toBe(401)
      expect(
        (await new Browser(env.url).post("/v1/auth/signin", { email: member.email, password: newPassword })).status
      ).toBe(200)
      // Expiry (links live 2 s here).
      await new Browser(env.url).post("/v1/auth/forgot", { email: member.email })
      await new Promise((r) => setTimeout(r, 2_200))
      const late = await new Browser(env.url).post("/v1/auth/reset", {
        token: linkToken(env, member.email, "token"),
        password: "too late password"
      })
      expect(late.status).toBe(400)
      expect(late.json.error.code).toBe("INVALID_OR_EXPIRED_LINK")
    })

    it("T4.4 TOTP enrollment and challenge succeed for valid codes and fail for invalid ones; recovery codes work once", async () => {
      const member = await newMember(env, admin, orgA, "member")
      const b = member.browser
      const enroll = await b.post("/v1/auth/mfa/enroll")
      expect(enroll.status).toBe(200)
      const secret = enroll.json.secret as string
      expect(enroll.json.otpauth_uri).toContain(`secret=${secret}`)
      const wrongCode = totpNow(secret) === "000000" ? "111111" : "000000"
      expect((await b.post("/v1/auth/mfa/confirm", { code: wrongCode })).json.error.code).toBe("INVALID_MFA_CODE")
      const confirm = await b.post("/v1/auth/mfa/confirm", { code: totpNow(secret) })
      expect(confirm.status).toBe(200)
      const recovery = confirm.json.recovery_codes as Array<string>
      expect(recovery).toHaveLength(10)
      // Sign-in now asks for the second factor.
      const signin = async () => {
        const c = new Browser(env.url)
        const r = await c.post("/v1/auth/signin", { email: member.email, password: PASSWORD })
        expect(r.json.status).toBe("mfa_required")
        expect(c.jar.has("ibex_session")).toBe(false)
        return { c, challenge: r.json.challenge as string }
      }
      const s1 = await signin()
      const bad = await s1.c.post("/v1/auth/mfa/verify", { challenge: s1.challenge, code: wrongCode })
      expect(bad.status).toBe(401)
      expect(bad.json.error.code).toBe("INVALID_MFA_CODE")
      const usedCode = totpNow(secret)
      const good = await s1.c.post("/v1/auth/mfa/verify", { challenge: s1.challenge, code: usedCode })
      expect(good.status).toBe(200)
      // The same code a second time: refused (each code works once).
      const s1b = await signin()
      const replayed = await s1b.c.post("/v1/auth/mfa/verify", { challenge: s1b.challenge, code: usedCode })
      expect([replayed.status, replayed.json.error.code]).toEqual([401, "INVALID_MFA_CODE"])
      expect(good.json.operator.mfa_enabled).toBe(true)
      expect((await s1.c.get("/v1/auth/me")).status).toBe(200)
      // A tampered challenge is refused.
      const s2 = await signin()
      const forged = await s2.c.post("/v1/auth/mfa/verify", { challenge: `${s2.challenge}x`, code: totpNow(secret) })
      expect(forged.status).toBe(401)
      // A recovery code: once.
      const r1 = await s2.c.post("/v1/auth/mfa/verify", { challenge: s2.challenge, recovery_code: recovery[0] })
      expect(r1.status).toBe(200)
      const s3 = await signin()
      const r2 = await s3.c.post("/v1/auth/mfa/verify", { challenge: s3.challenge, recovery_code: recovery[0] })
      expect(r2.status).toBe(401)
    })

    it("T4.4 TOTP matches RFC 6238's SHA-1 test vectors", () => {
      // Secret "12345678901234567890" (base32 GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ); 8-digit vectors, last 6 digits.
      const secret = Redacted.make("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
      const vectors: Array<[number, string]> = [
        [59, "287082"],
        [1111111109, "081804"],
        [1234567890, "005924"],
        [2000000000, "279037"]
      ]
      for (const [t, code] of vectors) expect(totpHmac.code(secret, totpCounter(t * 1000))).toBe(code)
    })

    it("T5.1 tenant spoofing is refused: an org the operator has no role in answers 403, existing or not", async () => {
      const member = await newMember(env, admin, orgA, "org_admin")
      expect((await member.browser.get("/v1/admin/agents", orgA)).status).toBe(200)
      for (const org of [orgB, "00000000-0000-4000-8000-000000000000"]) {
        for (const path of ["/v1/admin/agents", "/v1/admin/tokens", "/v1/admin/users", "/v1/admin/audit"]) {
          const r = await member.browser.get(path, org)
          expect([path, r.status, r.json.error.code]).toEqual([path, 403, "ORG_ACCESS_DENIED"])
        }
        const create = await member.browser.post("/v1/admin/agents", { name: "intruder" }, org)
        expect(create.status).toBe(403)
      }
      expect((await member.browser.get(`/v1/admin/orgs/${orgB}`)).status).toBe(403)
      const listed = await member.browser.get("/v1/admin/orgs")
      expect(listed.json.orgs.map((o: { id: string }) => o.id)).toEqual([orgA])
    })

    it("T5.2 a role assignment enables its expected actions and denies the others", async () => {
      const cases: Array<[string, Array<[string, string, unknown, number]>]> = [
        [
          "viewer",
          [
            ["GET", "/v1/admin/agents", undefined, 200],
            ["GET", "/v1/admin/tokens", undefined, 200],
            ["POST", "/v1/admin/agents", { name: "v" }, 403],
            ["POST", "/v1/admin/tokens", { name: "v", permissions: ["chat:completions"] }, 403],
            ["GET", "/v1/admin/assignments", undefined, 403]
          ]
        ],
        [
          "member",
          [
            ["POST", "/v1/admin/agents", { name: "m" }, 201],
            ["POST", "/v1/admin/tokens", { name: "m", permissions: ["chat:completions"] }, 201],
            ["POST", "/v1/admin/tokens", { name: "m", permissions: ["tokens:create"] }, 403],
            ["POST", "/v1/admin/invitations", { email: "x@example.test", role: "viewer" }, 403],
            ["PUT", "/v1/admin/budget", { tokens_per_minute: 10 }, 403]
          ]
        ],
        [
          "org_admin",
          [
            ["POST", "/v1/admin/tokens", { name: "a", permissions: ["tokens:create", "chat:completions"] }, 201],
            // A bit with no name yet would grant whatever it comes to mean later.
            ["POST", "/v1/admin/tokens", { name: "r", permissions: ["chat:completions", "bit:63"] }, 400],
            ["POST", "/v1/admin/invitations", { email: uniqueEmail("inv"), role: "viewer" }, 201],
            ["PUT", "/v1/admin/budget", { tokens_per_minute: 10, monthly_budget_micro_usd: null }, 200],
            ["GET", "/v1/admin/audit", undefined, 200],
            ["POST", "/v1/admin/orgs", { name: "not mine to make" }, 403]
          ]
        ]
      ]
      for (const [role, expectations] of cases) {
        const m = await newMember(env, admin, orgA, role)
        for (const [method, path, body, status] of expectations) {
          const r = await m.browser.call(method, path, { org: orgA, ...(body === undefined ? {} : { body }) })
          expect([role, method, path, r.status]).toEqual([role, method, path, status])
          if (status === 403) expect(r.json.error.code).toBe("ACTION_DENIED")
        }
      }
    })

    it("T5.3 org-scoped routes without X-IBEX-Org-ID answer 400 ORG_REQUIRED, with a malformed one 400 INVALID_ORG_ID", async () => {
      for (const path of [
        "/v1/admin/agents",
        "/v1/admin/tokens",
        "/v1/admin/users",
        "/v1/admin/usage",
        "/v1/admin/budget"
      ]) {
        const missing = await admin.get(path)
        expect([path, missing.status, missing.json.error.code]).toEqual([path, 400, "ORG_REQUIRED"])
        for (const bad of ["not-a-uuid", "1234", `${orgA}x`]) {
          const malformed = await admin.get(path, bad)
          expect([path, malformed.status, malformed.json.error.code]).toEqual([path, 400, "INVALID_ORG_ID"])
        }
      }
      const post = await admin.post("/v1/admin/agents", { name: "x" })
      expect(post.json.error.code).toBe("ORG_REQUIRED")
    })

    it("T7.1 only platform admins and org admins reach the admin endpoints meant for them", async () => {
      const orgAdmin = await newMember(env, admin, orgA, "org_admin")
      const member = await newMember(env, admin, orgA, "member")
      const viewer = await newMember(env, admin, orgA, "viewer")
      const orgAdminOnly: Array<[string, string, unknown]> = [
        ["GET", "/v1/admin/assignments", undefined],
        ["GET", "/v1/admin/invitations", undefined],
        ["GET", "/v1/admin/audit", undefined],
        ["PUT", `/v1/admin/assignments/${viewer.id}`, { role: "viewer" }],
        ["PUT", "/v1/admin/budget", { tokens_per_minute: null, monthly_budget_micro_usd: null }]
      ]
      const platformOnly: Array<[string, string, unknown]> = [
        ["POST", "/v1/admin/orgs", { name: `p-${Date.now()}` }],
        ["PATCH", `/v1/admin/orgs/${orgA}`, { rate_limit_per_minute: 100 }],
        ["GET", "/v1/admin/operators", undefined],
        ["GET", "/v1/admin/platform/audit", undefined],
        ["POST", `/v1/admin/operators/${viewer.id}/signout`, undefined]
      ]
      const call = (b: Browser, [method, path, body]: [string, string, unknown]) =>
        b.call(method, path, { org: orgA, ...(body === undefined ? {} : { body }) })
      for (const route of orgAdminOnly) {
        for (const who of [member, viewer]) expect((await call(who.browser, route)).status).toBe(403)
        expect((await call(orgAdmin.browser, route)).status).toBeLessThan(300)
        expect((await call(admin, route)).status).toBeLessThan(300)
      }
      for (const route of platformOnly) {
        for (const who of [orgAdmin, member, viewer]) expect((await call(who.browser, route)).status).toBe(403)
        expect((await call(admin, route)).status).toBeLessThan(300)
      }
      // Not signed in: 401 everywhere.
      const anonymous = new Browser(env.url)
      for (const route of [...orgAdminOnly, ...platformOnly]) {
        const r = await call(anonymous, route)
        expect([route[1], r.status, r.json.error.code]).toEqual([route[1], 401, "SESSION_REQUIRED"])
      }
    })

    it("T7.2 every admin mutation emits an audit record with actor, action, target, org and request id", async () => {
      const orgId = await newOrg(admin)
      const viewer = await newMember(env, admin, orgId, "viewer")
      const requestIds: Array<string> = []
      const mutate = async (method: string, path: string, body?: unknown) => {
        const r = await admin.call(method, path, { org: orgId, ...(body === undefined ? {} : { body }) })
        expect(r.status).toBeLessThan(300)
        requestIds.push(r.headers.get("x-request-id") as string)
        return r.json
      }
      const agent = (await mutate("POST", "/v1/admin/agents", { name: "audited" })).agent
      await mutate("POST", `/v1/admin/agents/${agent.id}/pause`)
      await mutate("POST", `/v1/admin/agents/${agent.id}/activate`)
      const token = (await mutate("POST", "/v1/admin/tokens", { name: "audited", permissions: ["chat:completions"] }))
        .info
      await mutate("POST", `/v1/admin/tokens/${token.id}/revoke`)
      await mutate("PUT", `/v1/admin/assignments/${viewer.id}`, { role: "member" })
      const inv = (await mutate("POST", "/v1/admin/invitations", { email: uniqueEmail("audit"), role: "viewer" }))
        .invitation
      await mutate("DELETE", `/v1/admin/invitations/${inv.id}`)
      await mutate("PUT", "/v1/admin/budget", { tokens_per_minute: 1000, monthly_budget_micro_usd: 5 })
      await mutate("PATCH", `/v1/admin/orgs/${orgId}`, { rate_limit_per_minute: 600 })
      await mutate("DELETE", `/v1/admin/assignments/${viewer.id}`)
      const audit = await admin.get("/v1/admin/audit?limit=100", orgId)
      expect(audit.status).toBe(200)
      const events = audit.json.events as Array<{
        action: string
        request_id: string
        actor: string
        org_id: string
        target: string
      }>
      const byRequest = new Map(events.map((e) => [e.request_id, e]))
      for (const id of requestIds) expect(byRequest.has(id)).toBe(true)
      expect(events.map((e) => e.action).reverse()).toEqual([
        "org.create",
        "invitation.create",
        "invitation.accept",
        "agent.create",
        "agent.pause",
        "agent.activate",
        "token.create",
        "token.revoke",
        "assignment.put",
        "invitation.create",
        "invitation.revoke",
        "budget.set",
        "org.update",
        "assignment.delete"
      ])
      for (const e of events.filter((e) => e.action !== "invitation.accept")) {
        expect(e.actor).toBe(`operator:${env.admin.id}`)
        expect(e.org_id).toBe(orgId)
        expect(e.target).not.toBeNull()
      }
      expect(JSON.stringify(events)).not.toMatch(/ibex_pat_[0-9a-f-]{36}_|ibex_inv_|argon2/)
      // The platform view has them too, and the bootstrap.
      const platform = await admin.get("/v1/admin/platform/audit?limit=200")
      expect(platform.json.events.some((e: { action: string }) => e.action === "operator.bootstrap")).toBe(true)
    })

    it("an org admin changes the roles of the org's own members only: another org's operator is not found, not added", async () => {
      const orgA = await newOrg(admin)
      const orgB = await newOrg(admin)
      const adminA = await newMember(env, admin, orgA, "org_admin")
      const outsider = await newMember(env, admin, orgB, "viewer")
      const tried = await adminA.browser.call("PUT", `/v1/admin/assignments/${outsider.id}`, {
        org: orgA,
        body: { role: "org_admin" }
      })
      expect([tried.status, tried.json.error.code]).toEqual([404, "NOT_FOUND"])
      expect(JSON.stringify(tried.json)).not.toContain(outsider.email)
      expect(
        (await outsider.browser.get("/v1/auth/me")).json.memberships.map((m: { org_id: string }) => m.org_id)
      ).toEqual([orgB])
      // Its own member's role it changes; a platform admin assigns anyone.
      const member = await newMember(env, admin, orgA, "viewer")
      const changed = await adminA.browser.call("PUT", `/v1/admin/assignments/${member.id}`, {
        org: orgA,
        body: { role: "member" }
      })
      expect(changed.status).toBe(200)
      expect(
        (await admin.call("PUT", `/v1/admin/assignments/${outsider.id}`, { org: orgA, body: { role: "viewer" } }))
          .status
      ).toBe(200)
    })

    it("T7.3 assignment changes take effect on the very next request of an existing session", async () => {
      const orgId = await newOrg(admin)
      const op = await newMember(env, admin, orgId, "viewer")
      expect((await op.browser.post("/v1/admin/agents", { name: "a" }, orgId)).status).toBe(403)
      expect(
        (await admin.call("PUT", `/v1/admin/assignments/${op.id}`, { org: orgId, body: { role: "member" } })).status
      ).toBe(200)
      expect((await op.browser.post("/v1/admin/agents", { name: "a" }, orgId)).status).toBe(201)
      expect((await op.browser.get("/v1/admin/assignments", orgId)).status).toBe(403)
      await admin.call("PUT", `/v1/admin/assignments/${op.id}`, { org: orgId, body: { role: "org_admin" } })
      expect((await op.browser.get("/v1/admin/assignments", orgId)).status).toBe(200)
      expect((await admin.call("DELETE", `/v1/admin/assignments/${op.id}`, { org: orgId })).status).toBe(204)
      const gone = await op.browser.get("/v1/admin/agents", orgId)
      expect([gone.status, gone.json.error.code]).toEqual([403, "ORG_ACCESS_DENIED"])
      expect((await op.browser.get("/v1/auth/me")).json.memberships).toEqual([])
      // A disabled operator is signed out on its next request.
      await admin.post(`/v1/admin/operators/${op.id}/disable`)
      expect((await op.browser.get("/v1/auth/me")).status).toBe(401)
    })

    it("CSRF: a session write needs X-CSRF-Token equal to the cookie and the session's, and a same-origin Origin", async () => {
      const b = await signedInAdmin(env)
      const noHeader = await b.call("POST", "/v1/admin/agents", { org: orgA, body: { name: "x" }, csrf: false })
      expect([noHeader.status, noHeader.json.error.code]).toEqual([403, "CSRF_FAILED"])
      const wrong = await b.call("POST", "/v1/admin/agents", {
        org: orgA,
        body: { name: "x" },
        csrf: false,
        headers: { "x-csrf-token": "forged" }
      })
      expect(wrong.status).toBe(403)
      const crossSite = await b.call("POST", "/v1/admin/agents", {
        org: orgA,
        body: { name: "x" },
        origin: "https://evil.example"
      })
      expect(crossSite.json.error.code).toBe("CSRF_FAILED")
      const sameSite = await b.call("POST", "/v1/admin/agents", { org: orgA, body: { name: "x" }, origin: env.url })
      expect(sameSite.status).toBe(201)
      // Cookies: HttpOnly session and refresh, SameSite=Strict, no Secure on loopback.
      const fresh = new Browser(env.url)
      const res = await fetch(`${env.url}/v1/auth/signin`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: env.admin.email, password: env.admin.password })
      })
      const cookies = res.headers.getSetCookie()
      expect(cookies.find((c) => c.startsWith("ibex_session="))).toMatch(/HttpOnly.*|SameSite=Strict/)
      for (const c of cookies) expect(c).toContain("SameSite=Strict")
      expect(cookies.find((c) => c.startsWith("ibex_refresh="))).toContain("HttpOnly")
      expect(cookies.find((c) => c.startsWith("ibex_csrf="))).not.toContain("HttpOnly")
      expect(fresh.jar.size).toBe(0)
    })

    it("sign-out ends the session: the access cookie and the refresh token stop working", async () => {
      const b = await signedInAdmin(env)
      const copy = new Browser(env.url)
      for (const [k, v] of b.jar) copy.jar.set(k, v)
      const forged = await b.call("POST", "/v1/auth/signout", { csrf: false })
      expect(forged.json.error.code).toBe("CSRF_FAILED")
      expect((await b.post("/v1/auth/signout")).status).toBe(204)
      expect(b.jar.size).toBe(0)
      // Signing out without a (live) session still clears the cookies.
      expect((await copy.post("/v1/auth/signout")).status).toBe(204)
      expect((await copy.get("/v1/auth/me")).status).toBe(401)
      expect((await copy.post("/v1/auth/refresh")).status).toBe(401)
    })
  })
}
