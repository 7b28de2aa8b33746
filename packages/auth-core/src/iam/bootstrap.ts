import { AuditTrail, type Operator, type OperatorId, OperatorStore, SecureRandom, uuidFromBytes } from "@ibex/domain"
import { Effect, Option, Redacted } from "effect"
import { hashPassword } from "./passwords.js"
import { randomText } from "./secrets.js"

export const BOOTSTRAP_EMAIL = "admin@ibex.local"

/**
 * The first start's platform admin: when no operator exists yet, one is created with a random
 * password, returned here once (the banner prints it) and stored only as its Argon2id hash. Later
 * starts (an operator exists) return None.
 */
export const bootstrapPlatformAdmin = (email: string = BOOTSTRAP_EMAIL) =>
  Effect.gen(function* () {
    const store = yield* OperatorStore
    if ((yield* store.list).length > 0)
      return Option.none<{ operator: Operator; password: Redacted.Redacted<string> }>()
    const password = Redacted.make(yield* randomText(18))
    const id = uuidFromBytes(yield* (yield* SecureRandom).bytes(16), 4) as OperatorId
    const created = yield* store.insert({
      id,
      email,
      displayName: "Platform admin",
      passwordHash: yield* hashPassword(password),
      platformAdmin: true
    })
    if (Option.isNone(created)) return Option.none()
    yield* (yield* AuditTrail).append({
      actor: "system",
      action: "operator.bootstrap",
      target: id,
      orgId: null,
      requestId: "bootstrap",
      detail: { email }
    })
    return Option.some({ operator: created.value, password })
  }).pipe(Effect.withSpan("OperatorBootstrap.run"))
