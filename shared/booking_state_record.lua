-- Note accepted jobs' booking versions and states (booking_state.py, BookingStates.record).
-- KEYS: booking hashes.
-- ARGV[4i - 3 .. 4i]: for KEYS[i], the booking version, status, paid (0/1) and its
-- v:<type>:<recipient> field; ARGV[#ARGV]: time to live, s.
-- Returns the number of hashes written.
local ttl = ARGV[#ARGV]
for i, key in ipairs(KEYS) do
  local b = 4 * (i - 1)
  local v = tonumber(ARGV[b + 1])
  if v >= tonumber(redis.call('HGET', key, 'v') or '-1') then
    redis.call('HSET', key, 'v', ARGV[b + 1], 'status', ARGV[b + 2], 'paid', ARGV[b + 3])
  end
  if v > tonumber(redis.call('HGET', key, ARGV[b + 4]) or '-1') then
    redis.call('HSET', key, ARGV[b + 4], ARGV[b + 1])
  end
  redis.call('EXPIRE', key, ttl)
end
return #KEYS
