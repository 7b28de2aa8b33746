import { Context } from "effect"

/** Lifetimes and limits of operator sign-in (docs/ADMIN_API.md). */
export interface IamSettings {
  readonly accessTtlMs: number
  readonly refreshTtlMs: number
  readonly resetTtlMs: number
  readonly invitationTtlMs: number
  readonly mfaChallengeTtlMs: number
  /**
   * A refresh token spent less than this long ago is refused without revoking its family: the
   * losers of concurrent refreshes (two tabs) must not sign the winner out. Older reuse is theft.
   */
  readonly refreshReuseGraceMs: number
  /** Base of the links mailed (reset, invitation): the console's URL, ending in `/`. */
  readonly consoleUrl: string
  /** Failures per account, and per source address, within `attemptWindowMs`. */
  readonly maxAttemptsPerAccount: number
  readonly maxAttemptsPerSource: number
  readonly attemptWindowMs: number
}

export const defaultIamSettings: IamSettings = {
  accessTtlMs: 15 * 60_000,
  refreshTtlMs: 30 * 24 * 3_600_000,
  resetTtlMs: 30 * 60_000,
  invitationTtlMs: 7 * 24 * 3_600_000,
  mfaChallengeTtlMs: 5 * 60_000,
  refreshReuseGraceMs: 2_000,
  consoleUrl: "http://127.0.0.1:9092/console/",
  maxAttemptsPerAccount: 10,
  maxAttemptsPerSource: 30,
  attemptWindowMs: 15 * 60_000
}

export class IamConfig extends Context.Reference<IamConfig>()("@ibex/auth-core/IamConfig", {
  defaultValue: (): IamSettings => defaultIamSettings
}) {}
