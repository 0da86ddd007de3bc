-- Read many bookings' hashes at once (booking_state.py, BookingStates.fetch).
-- KEYS: booking hashes. ARGV: none.
-- Returns each hash's HGETALL, a flat field/value list (empty when absent).
local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('HGETALL', key) end
return out
