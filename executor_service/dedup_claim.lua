-- Lease each key (dedup.py, DedupTable.claim).
-- KEYS: the dedup keys of one batch.
-- ARGV[1]: our lease value; ARGV[2]: lease length, ms.
-- Returns, per key: '' when the lease is ours (taken now, or ours already), else the value holding it
-- ('?' when it vanished between SET and GET).
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[2]) then
    out[i] = ''
  else
    local v = redis.call('GET', key)
    if v == ARGV[1] then out[i] = '' else out[i] = v or '?' end
  end
end
return out
