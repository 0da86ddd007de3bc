-- Claim each idempotency key with a pending lease (idempotency.py, IdempotencyStore.claim_many).
-- KEYS: idempotency keys.
-- ARGV[i]: our pending value for KEYS[i]; ARGV[#ARGV]: lease length, ms.
-- Returns, per key: '' when claimed now, else the value already there.
local lease = ARGV[#ARGV]
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[i], 'NX', 'PX', lease) then
    out[i] = ''
  else
    out[i] = redis.call('GET', key)
  end
end
return out
