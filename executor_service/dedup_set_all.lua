-- Set each key to its marker (dedup.py: sent and done markers).
-- KEYS: dedup keys.
-- ARGV[1..#KEYS]: the value of KEYS[i]; ARGV[#KEYS + 1]: time to live, s.
-- Returns the number of keys set.
local ttl = ARGV[#KEYS + 1]
for i, key in ipairs(KEYS) do redis.call('SET', key, ARGV[i], 'EX', ttl) end
return #KEYS
