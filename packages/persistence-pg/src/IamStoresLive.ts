import type { SqlClient } from "@effect/sql"
import type { AuditTrail, MembershipStore, OperatorStore, SessionStore } from "@ibex/domain"
import { Layer } from "effect"
import { AuditTrailLive } from "./AuditTrailLive.js"
import { MembershipStoreLive } from "./MembershipStoreLive.js"
import { OperatorStoreLive } from "./OperatorStoreLive.js"
import { SessionStoreLive } from "./SessionStoreLive.js"

/** Issue 15's store ports over the app pool the caller provides. */
export const IamStoresLive: Layer.Layer<
  OperatorStore | SessionStore | MembershipStore | AuditTrail,
  never,
  SqlClient.SqlClient
> = Layer.mergeAll(OperatorStoreLive, SessionStoreLive, MembershipStoreLive, AuditTrailLive)
