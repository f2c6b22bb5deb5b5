-- Undo an admission whose task could not be published: the send ends failed, and it no longer
-- counts against any abuse limit or holds its idempotency key (nothing was sent).
--
-- KEYS[1] record hash, KEYS[2] idempotency key (a placeholder when there is none),
-- KEYS[3] sends not yet final, KEYS[4..] the sliding-window logs the admission was counted in

local ticket = ARGV[1]
local reason = ARGV[2]
local has_idempotency_key = ARGV[3] == "1"

redis.call("HSET", KEYS[1], "state", "failed", "reason", reason, "updated_at", seconds(clock_ms("")))
for i = 3, #KEYS do
  redis.call("ZREM", KEYS[i], ticket)  -- the index and every log: the send never happened
end
if has_idempotency_key and redis.call("GET", KEYS[2]) == ticket then
  redis.call("DEL", KEYS[2])
end
return "failed"
