-- A check passed: clear the wrong-answer counter and mark the newest send to the number verified.
--
-- KEYS[1] wrong-answer counter, KEYS[2] newest-sent-ticket key of the number,
-- KEYS[3] global check counters (passed)
-- Returns the verified ticket, or false when smsq does not know which send it was.

local record_prefix = ARGV[1]
local minute_prefix = ARGV[2]
local now_ms = clock_ms(ARGV[3])
local now_s = seconds(now_ms)

redis.call("DEL", KEYS[1])
redis.call("HINCRBY", KEYS[3], "passed", 1)
local ticket = redis.call("GET", KEYS[2])
if not ticket then return false end
redis.call("DEL", KEYS[2])  -- the provider used the code up
local record = record_prefix .. ticket
if redis.call("HGET", record, "state") == "sent" then
  redis.call("HSET", record, "state", "verified", "updated_at", now_s, "verified_at", now_s)
  count_minute(minute_prefix, now_ms, "verified")
end
return ticket
