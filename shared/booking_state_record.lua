-- Note accepted jobs' booking versions and states (booking_state.py, BookingStates.record).
-- KEYS: booking hashes.
-- ARGV[1]: a JSON array of strings (one argument, not four per key: redis-py packs every argument in
-- Python, under the trigger's GIL) where items 4i - 3 .. 4i are, for KEYS[i], the booking version,
-- status, paid (0/1) and its v:<type>:<recipient> field; ARGV[2]: time to live, s.
-- Returns the number of hashes written.
local a = cjson.decode(ARGV[1])
local ttl = ARGV[2]
for i, key in ipairs(KEYS) do
  local b = 4 * (i - 1)
  local v = tonumber(a[b + 1])
  if v >= tonumber(redis.call('HGET', key, 'v') or '-1') then
    redis.call('HSET', key, 'v', a[b + 1], 'status', a[b + 2], 'paid', a[b + 3])
  end
  if v > tonumber(redis.call('HGET', key, a[b + 4]) or '-1') then
    redis.call('HSET', key, a[b + 4], a[b + 1])
  end
  redis.call('EXPIRE', key, ttl)
end
return #KEYS
