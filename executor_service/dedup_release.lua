-- Delete each key still holding our lease (dedup.py, DedupTable.release).
-- KEYS: dedup keys.
-- ARGV[1]: our lease value.
-- Returns how many were deleted.
local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then n = n + redis.call('DEL', key) end
end
return n
