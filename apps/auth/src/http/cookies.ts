import type { IssuedSession } from "@ibex/auth-core"
import { Redacted } from "effect"

/** The console's cookies (docs/ADMIN_API.md): HttpOnly session and refresh, readable CSRF, SameSite=Strict. */
export const SESSION_COOKIE = "ibex_session"
export const REFRESH_COOKIE = "ibex_refresh"
export const CSRF_COOKIE = "ibex_csrf"
export const REFRESH_PATH = "/v1/auth"

const cookie = (
  name: string,
  value: string,
  opts: { path: string; maxAgeS: number; httpOnly: boolean; secure: boolean }
) =>
  [
    `${name}=${encodeURIComponent(value)}`,
    `Path=${opts.path}`,
    `Max-Age=${Math.max(0, Math.floor(opts.maxAgeS))}`,
    "SameSite=Strict",
    ...(opts.httpOnly ? ["HttpOnly"] : []),
    ...(opts.secure ? ["Secure"] : [])
  ].join("; ")

export const sessionCookies = (session: IssuedSession, secure: boolean, now: number): Array<string> => [
  cookie(SESSION_COOKIE, Redacted.value(session.access), {
    path: "/",
    maxAgeS: (session.accessExpiresAt.getTime() - now) / 1000,
    httpOnly: true,
    secure
  }),
  cookie(REFRESH_COOKIE, Redacted.value(session.refresh), {
    path: REFRESH_PATH,
    maxAgeS: (session.refreshExpiresAt.getTime() - now) / 1000,
    httpOnly: true,
    secure
  }),
  cookie(CSRF_COOKIE, session.csrf, {
    path: "/",
    maxAgeS: (session.refreshExpiresAt.getTime() - now) / 1000,
    httpOnly: false,
    secure
  })
]

export const clearedCookies = (secure: boolean): Array<string> => [
  cookie(SESSION_COOKIE, "", { path: "/", maxAgeS: 0, httpOnly: true, secure }),
  cookie(REFRESH_COOKIE, "", { path: REFRESH_PATH, maxAgeS: 0, httpOnly: true, secure }),
  cookie(CSRF_COOKIE, "", { path: "/", maxAgeS: 0, httpOnly: false, secure })
]
