-- Undo an admission whose task could not be published: the send ends failed, and it no longer
-- counts against any abuse limit or holds its idempotency key (nothing was sent).
--
-- KEYS[1] record hash, KEYS[2] idempotency key (a placeholder when there is none),
-- KEYS[3..] the sliding-window logs the admission was counted in
-- ARGV[1] ticket, ARGV[2] reason, ARGV[3] "1" when KEYS[2] is a real idempotency key

local now_ms = clock_ms("")
redis.call("HSET", KEYS[1], "state", "failed", "reason", ARGV[2],
           "updated_at", string.format("%.3f", now_ms / 1000))
for i = 3, #KEYS do
  redis.call("ZREM", KEYS[i], ARGV[1])
end
if ARGV[3] == "1" and redis.call("GET", KEYS[2]) == ARGV[1] then
  redis.call("DEL", KEYS[2])
end
return "failed"
