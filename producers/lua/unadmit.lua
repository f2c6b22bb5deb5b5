-- Undo an admission whose task could not be published: the send ends failed, and it no longer
-- counts against any abuse limit or holds its idempotency key (nothing was sent). Only while no
-- worker has taken it: a publish can fail after the broker took the message (its reply lost), and
-- a worker may be running the send already. Then it is left alone, and its state returned.
--
-- KEYS[1] record hash, KEYS[2] its run's lease, KEYS[3] the idempotency key's current name when
-- ARGV[3] is "1", then the sliding-window logs the admission was counted in, and the recovery
-- sweep's index: the ticket leaves every one of them (the send never happened)
-- Returns "failed" when undone, else the state the send is in (or "missing").

local ticket = ARGV[1]
local reason = ARGV[2]
local has_idempotency_key = ARGV[3] == "1"

local rec = redis.call("HMGET", KEYS[1], "state", "ambiguous_since")
if not rec[1] then return "missing" end
if rec[1] ~= "queued" or rec[2] or redis.call("EXISTS", KEYS[2]) == 1 then
  return rec[1]  -- a run took it (and may have called the provider): the send goes on
end

local first_log = 3
if has_idempotency_key then
  first_log = 4
  if redis.call("GET", KEYS[3]) == ticket then redis.call("DEL", KEYS[3]) end
end

redis.call("HSET", KEYS[1], "state", "failed", "reason", reason, "updated_at", seconds(clock_ms("")))
redis.call("HDEL", KEYS[1], SEALED_PHONE)
for i = first_log, #KEYS do
  redis.call("ZREM", KEYS[i], ticket)
end
return "failed"
