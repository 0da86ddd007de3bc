-- Claim each idempotency key with a pending lease (idempotency.py, IdempotencyStore.claim_many).
-- KEYS: idempotency keys.
-- ARGV[1]: a JSON array, our pending value for each of KEYS in order (one argument, not one per key:
-- redis-py packs every argument in Python, under the trigger's GIL); ARGV[2]: lease length, ms.
-- Returns, per key: '' when claimed now, else the value already there.
local values = cjson.decode(ARGV[1])
local lease = ARGV[2]
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, values[i], 'NX', 'PX', lease) then
    out[i] = ''
  else
    out[i] = redis.call('GET', key)
  end
end
return out
