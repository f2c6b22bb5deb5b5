-- Undo an admission whose task could not be published: the send ends failed, and it no longer
-- counts against any abuse limit or holds its idempotency key (nothing was sent).
--
-- KEYS[1] record hash, KEYS[2] the idempotency key's current name when ARGV[3] is "1",
-- then the sliding-window logs the admission was counted in

local ticket = ARGV[1]
local reason = ARGV[2]
local has_idempotency_key = ARGV[3] == "1"
local first_log = 2
if has_idempotency_key then
  first_log = 3
  if redis.call("GET", KEYS[2]) == ticket then redis.call("DEL", KEYS[2]) end
end

redis.call("HSET", KEYS[1], "state", "failed", "reason", reason, "updated_at", seconds(clock_ms("")))
redis.call("HDEL", KEYS[1], SEALED_PHONE)
for i = first_log, #KEYS do
  redis.call("ZREM", KEYS[i], ticket)
end
return "failed"
