import { Context, type Effect } from "effect"
import type { ServiceDegraded } from "../errors.js"

/**
 * The usage records read as a ledger of spend. A UsageLimiter rebuilds an org's month from it when
 * its counter holds nothing for that month: the month's first request with a budget, a budget set
 * in the middle of the month, a Redis that restarted empty. The ledger trails the counter by the
 * records not shipped yet and the requests still in flight.
 */
export interface UsageLedgerShape {
  /** What the org's stored records cost in the UTC month `YYYY-MM`, micro-USD. */
  readonly monthSpend: (orgId: string, month: string) => Effect.Effect<number, ServiceDegraded>
}

export class UsageLedger extends Context.Tag("@ibex/domain/UsageLedger")<UsageLedger, UsageLedgerShape>() {}
