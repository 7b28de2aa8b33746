import { createHash } from "node:crypto"

/**
 * Token limit and spend budget in one atomic script, so a reservation either counts against
 * both or against neither. The token window is a GCRA over tokens (60 000 / limit ms each), the
 * clock read inside Redis (`TIME`) as for the request limiter. The month's spend is a hash per
 * org and month: `s` micro-USD, `c` the count's id. A count is started (`seed`) from the usage
 * ledger by the adapter, once, when a reservation with a budget finds none (the month's first
 * request, a Redis that restarted empty); a settle adds to the count only while `c` is still the
 * count its reservation went into, so a reservation counted before the count was lost cannot take
 * its reservation off a count that never held it.
 *
 * KEYS[1]  the org's token-window key   KEYS[2]  the org's spend hash for the month
 *          (both hash-tagged by org: one Cluster slot)
 * ARGV[1]  "reserve" | "settle" | "seed"
 * reserve, settle:
 *   ARGV[2]  tokens (reserve: to count; settle: actual − reserved, may be negative)
 *   ARGV[3]  tokens per minute, 0: no token limit
 *   ARGV[4]  cost in micro-USD (reserve: reserved; settle: actual − reserved)
 *   ARGV[5]  monthly budget in micro-USD, -1: none
 *   ARGV[6]  settle: the count the reservation went into ("" : none)
 * seed: ARGV[2] the spend to start at, ARGV[3] the new count's id
 * Returns  reserve: { verdict (1 admitted, 2 tokens exceeded, 3 budget exceeded, 4 no count of the
 *          month: seed it), remaining, resetAtMs, retryAfterMs, the count's id or "" };
 *          settle, seed: { 1 }
 */
export const USAGE_LUA = `
local mode = ARGV[1]
local monthTtl = 40 * 86400 * 1000
if mode == 'seed' then
  if redis.call('EXISTS', KEYS[2]) == 0 then
    redis.call('HSET', KEYS[2], 's', ARGV[2], 'c', ARGV[3])
    redis.call('PEXPIRE', KEYS[2], monthTtl)
  end
  return {1}
end
local tokens = tonumber(ARGV[2])
local tpm = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local budget = tonumber(ARGV[5])
local window = 60000
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if mode == 'settle' then
  if cost ~= 0 and ARGV[6] ~= '' and redis.call('HGET', KEYS[2], 'c') == ARGV[6] then
    redis.call('HINCRBY', KEYS[2], 's', ARGV[4])
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
return {1, remaining, resetAt, 0, count}
`

export const USAGE_SHA = createHash("sha1").update(USAGE_LUA).digest("hex")
