/**
 * What the security matrix needs from a running stack. Both environments (in-memory adapters
 * and the real Postgres + Redis stack) serve the proxy and the auth service on real sockets;
 * the suite talks to them only over HTTP, plus the control hooks below.
 */
export interface WireToken {
  readonly id: string
  /** The raw PAT. Test data: the suite checks it never comes back in a response or a log line. */
  readonly token: string
}

export interface WireOrg {
  readonly orgId: string
  readonly agentId: string
  readonly agents: {
    readonly active: string
    readonly paused: string
    readonly archived: string
    readonly suspended: string
  }
  readonly tokens: {
    readonly full: WireToken
    readonly readOnly: WireToken
    readonly chatOnly: WireToken
    readonly noPermissions: WireToken
    readonly revoked: WireToken
    readonly expired: WireToken
  }
}

export interface WireTwoOrgs {
  readonly orgA: WireOrg
  readonly orgB: WireOrg
}

export interface SecurityEnvironment {
  readonly name: string
  /** Base URL of the proxy, e.g. http://127.0.0.1:41234 */
  readonly proxyUrl: () => string
  /** Two fresh orgs (seed 001's setupTwoOrgs); `rateLimitPerMinute` is stored on both org records. */
  readonly setupTwoOrgs: (options?: { readonly rateLimitPerMinute?: number | null }) => Promise<WireTwoOrgs>
  /**
   * Revokes through the RevokeToken RPC of the auth instance the proxy talks to, with the org's
   * admin token; resolves when the RPC returns. That instance evicts its own cache directly.
   */
  readonly revokeToken: (org: WireOrg, tokenId: string) => Promise<void>
  /**
   * Revokes "elsewhere": the auth instance the proxy talks to is not told, so it can only learn
   * of it by push (SEC-1.5). Real stack: the RevokeToken RPC of a second auth instance on the
   * same database (its own pool, cache and LISTEN connection), so the path is Postgres NOTIFY →
   * the proxy's instance's revocation feed → eviction. Memory: the token store directly (the
   * in-memory feed → eviction). Resolves when the revocation is committed.
   */
  readonly revokeElsewhere: (org: WireOrg, tokenId: string) => Promise<void>
  /** One line saying which path `revokeElsewhere` takes, printed with SEC-1.5's figure. */
  readonly revokeElsewherePath: string
  readonly stopAuth: () => Promise<void>
  readonly startAuth: () => Promise<void>
  readonly stopRateLimiter: () => Promise<void>
  readonly startRateLimiter: () => Promise<void>
  /** Every log line the stack wrote so far (both services). */
  readonly logLines: () => ReadonlyArray<string>
  readonly close: () => Promise<void>
}
