import { Permissions, validateName } from "@ibex/domain"
import { Duration, Effect, Either, Option } from "effect"
import { usageError } from "./output.js"

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** A UUID argument, canonicalised to lowercase (the only form the system stores). */
export const uuidArg = <A extends string>(what: string, raw: string) =>
  uuidPattern.test(raw.trim())
    ? Effect.succeed(raw.trim().toLowerCase() as A)
    : Effect.fail(usageError(`${what} must be a UUID (got "${raw.slice(0, 40)}")`))

/** A name argument, by the domain's rule (1 to `max` characters, no control characters). */
export const nameArg = (what: string, raw: string, max: number) =>
  Either.match(validateName(raw, max), {
    onLeft: (problem) => Effect.fail(usageError(`${what} ${problem}`)),
    onRight: (name) => Effect.succeed(name)
  })

export const knownPermissions = (): ReadonlyArray<string> => Object.keys(Permissions.PermissionBits)

/** `probe:read,chat:completions` → the bitmap; an unknown name is a usage error listing the known ones. */
export const permissionsArg = (raw: string) => {
  const names = raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
  if (names.length === 0)
    return Effect.fail(usageError(`--permissions needs at least one of: ${knownPermissions().join(", ")}`))
  const parsed = Permissions.fromNames(names)
  return Either.isRight(parsed)
    ? Effect.succeed(parsed.right)
    : Effect.fail(usageError(`--permissions: ${parsed.left}; known: ${knownPermissions().join(", ")} (or "all")`))
}

const units: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/** `30d`, `12h`, `90m`, `2w`, `45s`, or an Effect duration text (`36 hours`). */
export const durationArg = (raw: string): Effect.Effect<Duration.Duration, ReturnType<typeof usageError>> => {
  const text = raw.trim()
  const short = /^(\d{1,6})\s*([smhdw])$/.exec(text)
  if (short) {
    const ms = Number(short[1]) * (units[short[2] as string] ?? 0)
    if (ms > 0) return Effect.succeed(Duration.millis(ms))
  } else {
    const decoded = Option.liftThrowable(Duration.decode)(text as Duration.DurationInput)
    if (Option.isSome(decoded) && Duration.toMillis(decoded.value) > 0 && Duration.isFinite(decoded.value))
      return Effect.succeed(decoded.value)
  }
  return Effect.fail(usageError(`--expires-in must be a positive duration like 30d, 12h, 90m or 2w (got "${text}")`))
}
