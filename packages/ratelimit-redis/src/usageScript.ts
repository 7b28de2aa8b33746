import { createHash } from "node:crypto"

/**
 * Token limit and spend budget in one atomic script, so a reservation either counts against
 * both or against neither. The token window is a GCRA over tokens (60 000 / limit ms each), the
 * clock read inside Redis (`TIME`) as for the request limiter. The month's spend is a hash per
 * org and month: `s` micro-USD, `c` the count's id, living ARGV's idle time past its last write. A
 * count is started (`seed`) from the usage ledger by the adapter, once, when a reservation with a
 * budget finds none (the month's first request, a Redis that restarted empty, an idle count that
 * expired). A settle adds the difference from its reservation to the count its reservation went
 * into; to any other count (its own was lost and rebuilt from a ledger that cannot hold this
 * request's record yet, shipped after the settle) the whole actual cost.
 *
 * KEYS[1]  the org's token-window key   KEYS[2]  the org's spend hash for the month
 *          (both hash-tagged by org: one Cluster slot)
 * ARGV[1]  "reserve" | "settle" | "seed"
 * reserve, settle:
 *   ARGV[2]  tokens (reserve: to count; settle: actual − reserved, may be negative)
 *   ARGV[3]  tokens per minute, 0: no token limit
 *   ARGV[4]  cost in micro-USD (reserve: reserved; settle: actual − reserved)
 *   ARGV[5]  monthly budget in micro-USD, -1: none
 *   ARGV[6]  the count's idle lifetime, ms
 *   ARGV[7]  settle: the count the reservation went into ("" : none)
 *   ARGV[8]  settle: the actual cost in micro-USD
 * seed: ARGV[2] the spend to start at, ARGV[3] the new count's id, ARGV[4] its idle lifetime, ms
 * Returns  reserve: { verdict (1 admitted, 2 tokens exceeded, 3 budget exceeded, 4 no count of the
 *          month: seed it), remaining, resetAtMs, retryAfterMs, the count's id or "" };
 *          settle, seed: { 1 }
 */
export const USAGE_LUA = `
local mode = ARGV[1]
if mode == 'seed' then
  if redis.call('EXISTS', KEYS[2]) == 0 then
    redis.call('HSET', KEYS[2], 's', ARGV[2], 'c', ARGV[3])
    redis.call('PEXPIRE', KEYS[2], ARGV[4])
  end
  return {1}
end
local idleTtl = ARGV[6]
local tokens = tonumber(ARGV[2])
local tpm = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local budget = tonumber(ARGV[5])
local window = 60000
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if mode == 'settle' then
  local current = redis.call('HGET', KEYS[2], 'c')
  if current then
    local add = ARGV[8]
    if ARGV[7] ~= '' and current == ARGV[7] then add = ARGV[4] end
    if tonumber(add) ~= 0 then redis.call('HINCRBY', KEYS[2], 's', add) end
    redis.call('PEXPIRE', KEYS[2], idleTtl)
  end
  if tpm > 0 and tokens ~= 0 then
    local stored = redis.call('GET', KEYS[1])
    if stored then
      local tat = tonumber(stored) + tokens * (window / tpm)
      if tat > now then
        redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.max(1, math.ceil(tat - now)))
      else
        redis.call('DEL', KEYS[1])
      end
    end
  end
  return {1}
end
local count = redis.call('HGET', KEYS[2], 'c')
if budget >= 0 and not count then
  return {4, 0, 0, 0, ''}
end
local newTat = nil
local remaining = -1
local resetAt = 0
if tpm > 0 then
  local interval = window / tpm
  local tat = now
  local stored = redis.call('GET', KEYS[1])
  if stored then tat = math.max(tonumber(stored), now) end
  newTat = tat + math.max(1, math.min(tokens, tpm)) * interval
  if newTat - now > window then
    local left = math.max(0, math.min(tpm, math.floor((now + window - tat + 0.001) / interval)))
    return {2, left, math.ceil(tat), math.ceil(newTat - now - window), ''}
  end
  remaining = math.max(0, math.min(tpm, math.floor((now + window - newTat + 0.001) / interval)))
  resetAt = math.ceil(newTat)
end
if count then
  local spent = tonumber(redis.call('HGET', KEYS[2], 's') or '0')
  if budget >= 0 and spent + cost > budget then
    return {3, remaining, resetAt, 0, ''}
  end
end
if newTat then
  redis.call('SET', KEYS[1], string.format('%.3f', newTat), 'PX', math.max(1, math.ceil(newTat - now)))
end
if not count then
  return {1, remaining, resetAt, 0, ''}
end
if cost ~= 0 then
  redis.call('HINCRBY', KEYS[2], 's', ARGV[4])
end
redis.call('PEXPIRE', KEYS[2], idleTtl)
return {1, remaining, resetAt, 0, count}
`

export const USAGE_SHA = createHash("sha1").update(USAGE_LUA).digest("hex")
