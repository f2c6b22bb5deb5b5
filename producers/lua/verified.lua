-- A check passed: clear the wrong-answer counter and mark the newest send to the number verified.
--
-- KEYS[1] wrong-answer counter, KEYS[2] newest-sent-ticket key of the number,
-- KEYS[3] global check counters (passed)
-- ARGV[1] key prefix of send records, ARGV[2] now s, ARGV[3] key prefix of the per-minute counters
-- Returns the verified ticket, or false when smsq does not know which send it was.

redis.call("DEL", KEYS[1])
redis.call("HINCRBY", KEYS[3], "passed", 1)
local ticket = redis.call("GET", KEYS[2])
if not ticket then return false end
redis.call("DEL", KEYS[2])  -- the provider used the code up
local record = ARGV[1] .. ticket
if redis.call("HGET", record, "state") == "sent" then
  redis.call("HSET", record, "state", "verified", "updated_at", ARGV[2], "verified_at", ARGV[2])
  local minute_key = ARGV[3] .. math.floor(tonumber(ARGV[2]) / 60)
  redis.call("HINCRBY", minute_key, "verified", 1)
  redis.call("EXPIRE", minute_key, 7200)
end
return ticket
