import { createHash } from "node:crypto"

/**
 * GCRA in one atomic Lua script, the same maths as `gcra` in @ibex/domain's RateLimit.ts, with
 * the clock read inside Redis (`TIME`) so every proxy instance shares one notion of now.
 *
 * KEYS[1]  the org's key, hash-tagged by org (`…{<orgId>}`), so it lives on one Cluster slot
 * ARGV[1]  limit (requests per window)
 * ARGV[2]  window in ms
 * ARGV[3]  units wanted (optional, default 1): a lease takes as many as the burst still holds, up to this
 * Returns  { allowed (0|1), remaining, resetAtMs, retryAfterMs, granted }
 *
 * The state is the theoretical arrival time (TAT) in ms, stored with PX = time until the key is
 * back at full capacity (never longer than the window), so idle orgs cost no memory.
 * Redis 7 replicates scripts by effects, so reading TIME inside a writing script is safe.
 * `remaining` adds the same 1 µs tolerance as the reference (SLACK_TOLERANCE_MS), so float noise
 * never under-reports it by one (e.g. 10 instead of 11 - 1 for a limit of 11).
 *
 * The first unit is judged exactly as a single request always was; further units (a lease, see
 * LeaseBook.ts) are granted only while each still fits in the burst, so a grant of n units moves the
 * TAT exactly as n requests one after the other would, and never past what the limit allows.
 */
export const GCRA_LUA = `
local limit = math.max(1, math.floor(tonumber(ARGV[1])))
local window = math.max(1, tonumber(ARGV[2]))
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local want = math.max(1, math.floor(tonumber(ARGV[3] or '1')))
local interval = window / limit
local stored = redis.call('GET', KEYS[1])
local tat = now
if stored then
  tat = math.max(tonumber(stored), now)
end
local allowAt = tat + interval - window
if now < allowAt then
  return {0, 0, math.ceil(tat), math.max(1, math.ceil(allowAt - now)), 0}
end
local granted = 1
if want > 1 then
  granted = math.max(1, math.min(want, math.floor((now + window - tat) / interval)))
end
local newTat = tat + interval * granted
local remaining = math.max(0, math.min(limit, math.floor((now + window - newTat + 0.001) / interval)))
redis.call('SET', KEYS[1], string.format('%.3f', newTat), 'PX', math.max(1, math.ceil(newTat - now)))
return {1, remaining, math.ceil(newTat), 0, granted}
`

export const GCRA_SHA = createHash("sha1").update(GCRA_LUA).digest("hex")
