-- Compare-and-set on the claims we hold (idempotency.py, IdempotencyStore.settle_many): a key still
-- holding our pending value becomes its accepted record, or is deleted.
-- KEYS: idempotency keys.
-- ARGV[1]: a JSON array (one argument, not one per key: see idempotency_claim_many.lua) where items
-- 2i - 1 and 2i are our pending value for KEYS[i] and its new value ('' deletes it);
-- ARGV[2]: time to live of accepted records, ms.
-- Returns the number of keys looked at.
local values = cjson.decode(ARGV[1])
local ttl = ARGV[2]
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == values[2 * i - 1] then
    local new = values[2 * i]
    if new == '' then redis.call('DEL', key) else redis.call('SET', key, new, 'PX', ttl) end
  end
end
return #KEYS
