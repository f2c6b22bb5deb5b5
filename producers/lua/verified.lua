-- A check passed: clear the wrong-answer counter and mark the newest send to the number verified.
--
-- KEYS[1] wrong-answer counter, KEYS[2] newest-sent-ticket key of the number
-- ARGV[1] key prefix of send records, ARGV[2] now s
-- Returns the verified ticket, or false when smsq does not know which send it was.

redis.call("DEL", KEYS[1])
local ticket = redis.call("GET", KEYS[2])
if not ticket then return false end
redis.call("DEL", KEYS[2])  -- the provider used the code up
local record = ARGV[1] .. ticket
if redis.call("HGET", record, "state") == "sent" then
  redis.call("HSET", record, "state", "verified", "updated_at", ARGV[2], "verified_at", ARGV[2])
end
return ticket
