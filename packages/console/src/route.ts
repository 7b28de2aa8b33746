import { useEffect, useState } from "react"

/**
 * Hash routes (`/console/#/o/<org id>/tokens`): the mails' links are `#/reset?token=…` and
 * `#/signup?invitation=…`, and a hash route never reaches the server.
 */
export interface Route {
  readonly path: ReadonlyArray<string>
  readonly params: URLSearchParams
}

const parse = (): Route => {
  const hash = window.location.hash.replace(/^#/, "")
  const q = hash.indexOf("?")
  const pathText = q === -1 ? hash : hash.slice(0, q)
  return {
    path: pathText
      .split("/")
      .filter((s) => s !== "")
      .map((s) => decodeURIComponent(s)),
    params: new URLSearchParams(q === -1 ? "" : hash.slice(q + 1))
  }
}

export const useRoute = (): Route => {
  const [route, setRoute] = useState(parse)
  useEffect(() => {
    const on = () => setRoute(parse())
    window.addEventListener("hashchange", on)
    return () => window.removeEventListener("hashchange", on)
  }, [])
  return route
}

export const navigate = (path: string) => {
  window.location.hash = path.startsWith("#") ? path : `#${path}`
}

export const orgPath = (org: string, page: string) => `/o/${encodeURIComponent(org)}/${page}`
