-- Channel rate limit: one sender's bucket, shared by every executor (executor_service/rate_limit.py).
-- GCRA (a token bucket kept as one time): `tat` is when the bucket would be full again, in ms of the
-- Redis clock, so the executors' own clocks do not matter. A send conforms once tat - burst * interval
-- has passed; the caller reserves the next slot and sleeps until it, or, when that slot is further
-- away than it may sleep, reserves nothing and gets a return time from a second schedule (`dtat`,
-- spaced one interval apart) so that deferred jobs come back spread out instead of all at once.
-- The key expires once the bucket is full again: a missing bucket (also after a flush) is a full one.
--
-- KEYS[1]  the bucket (a hash: tat, dtat)
-- ARGV[1]  interval between sends, ms (period / max; may be fractional)
-- ARGV[2]  burst: sends allowed at once on a full bucket
-- ARGV[3]  the longest wait the caller sleeps, ms
-- Returns  {wait_ms, 1} (a slot reserved wait_ms from now; 0 = send now)
--       or {wait_ms, 0} (nothing reserved: come back in wait_ms)
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local tat = math.max(tonumber(redis.call('HGET', KEYS[1], 'tat') or now), now) + interval
local wait = tat - burst * interval - now
if wait <= max_wait then
  redis.call('HSET', KEYS[1], 'tat', string.format('%.3f', tat))
  local dtat = tonumber(redis.call('HGET', KEYS[1], 'dtat') or 0)
  redis.call('PEXPIRE', KEYS[1], math.ceil(math.max(tat, dtat) - now) + 1000)
  return {math.max(math.ceil(wait), 0), 1}
end
local back = math.max(tonumber(redis.call('HGET', KEYS[1], 'dtat') or 0) + interval, now + wait)
redis.call('HSET', KEYS[1], 'dtat', string.format('%.3f', back))
redis.call('PEXPIRE', KEYS[1], math.ceil(math.max(back, tat) - now) + 1000)
return {math.ceil(back - now), 0}
