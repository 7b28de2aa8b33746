import { Schema } from "effect"
import { OrgId, UserId } from "./ids.js"

export const OrgStatus = Schema.Literal("active", "disabled")
export type OrgStatus = typeof OrgStatus.Type

export class Org extends Schema.Class<Org>("Org")({
  id: OrgId,
  name: Schema.String,
  status: OrgStatus,
  /** Requests per minute for the whole org; null means the proxy's default applies. */
  rateLimitPerMinute: Schema.NullOr(Schema.Int.pipe(Schema.positive())),
  createdAt: Schema.DateFromSelf
}) {}

export class User extends Schema.Class<User>("User")({
  id: UserId,
  orgId: OrgId,
  email: Schema.String,
  displayName: Schema.String,
  createdAt: Schema.DateFromSelf
}) {}
