-- Compare-and-set on the claims we hold (idempotency.py, IdempotencyStore.settle_many): a key still
-- holding our pending value becomes its accepted record, or is deleted.
-- KEYS: idempotency keys.
-- ARGV[2i - 1]: our pending value for KEYS[i]; ARGV[2i]: its new value ('' deletes it);
-- ARGV[#ARGV]: time to live of accepted records, ms.
-- Returns the number of keys looked at.
local ttl = ARGV[#ARGV]
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[2 * i - 1] then
    local new = ARGV[2 * i]
    if new == '' then redis.call('DEL', key) else redis.call('SET', key, new, 'PX', ttl) end
  end
end
return #KEYS
