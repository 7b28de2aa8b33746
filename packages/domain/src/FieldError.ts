import { Schema } from "effect"

/**
 * One problem with one field of a request, addressed by a dotted path such as
 * `messages.2.content` (array indexes are path segments). Messages never echo the
 * client's value back: they say what was expected.
 */
export class FieldError extends Schema.Class<FieldError>("FieldError")({
  field: Schema.String,
  message: Schema.String
}) {}
