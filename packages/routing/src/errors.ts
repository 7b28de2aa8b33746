import { FieldError } from "@ibex/domain"
import { Schema } from "effect"

/**
 * A routing source could not produce a table at startup (unreadable, bad syntax, an invalid
 * config, an unreachable NATS). Every problem found is listed: a server must not start on a
 * broken routing config, and whoever fixes it should see all of it at once.
 */
export class RoutingLoadFailed extends Schema.TaggedError<RoutingLoadFailed>()("RoutingLoadFailed", {
  source: Schema.String,
  errors: Schema.Array(FieldError)
}) {
  override get message(): string {
    return `routing config from ${this.source} refused: ${this.errors.map((e) => `${e.field}: ${e.message}`).join("; ")}`
  }
}

/** Writing a routing config to its source failed (NATS unreachable, no such bucket). */
export class RoutingWriteFailed extends Schema.TaggedError<RoutingWriteFailed>()("RoutingWriteFailed", {
  source: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `cannot write routing config to ${this.source}: ${this.detail}`
  }
}
