-- Cancel a booking's jobs up to an instant (booking_state.py, BookingStates.cancel).
-- KEYS[1]: the booking hash.
-- ARGV[1]: the instant, epoch ms; ARGV[2]: time to live, s; ARGV[3..]: cancel:<type> fields, each set
-- to max(instant, current).
-- Returns 1.
for i = 3, #ARGV do
  local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if tonumber(ARGV[1]) > cur then redis.call('HSET', KEYS[1], ARGV[i], ARGV[1]) end
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
