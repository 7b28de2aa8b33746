import type { IncomingMessage, ServerResponse } from "node:http"
import { Context, type Effect } from "effect"

/**
 * A handler the admin listener tries, in order, before its own routes (/health, /ready,
 * /metrics): it answers and returns true, or leaves the request alone and returns false. The IAM
 * API (/v1/auth, /v1/admin) is one; the console's static files (/console/) mount the same way.
 */
export type AdminHttpHandler = (req: IncomingMessage, res: ServerResponse) => Effect.Effect<boolean>

export class AdminHttpHandlers extends Context.Tag("@ibex/app-auth/AdminHttpHandlers")<
  AdminHttpHandlers,
  ReadonlyArray<AdminHttpHandler>
>() {}
