-- Extend each key still holding our lease (dedup.py, DedupTable.renew); never a sent/done marker,
-- never another worker's lease.
-- KEYS: dedup keys.
-- ARGV[1]: our lease value; ARGV[2]: lease length, ms.
-- Returns how many leases were extended.
local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then n = n + redis.call('PEXPIRE', key, ARGV[2]) end
end
return n
