-- A check passed: the code is used up. Clear its answer counter, forget it as the number's live
-- code (unless a newer send replaced it), and mark its send verified.
--
-- KEYS[1] the code's answer counter, KEYS[2] global check counters (passed),
-- KEYS[3..] the number's live-code key names
-- The send's verification also counts for its purpose's conversion and, through the record, for
-- the pumping breaker of its prefix (enqueue.lua).
-- Returns the verified ticket.

local ticket = ARGV[1]
local record_prefix = ARGV[2]
local minute_prefix = ARGV[3]
local now_ms = clock_ms(ARGV[4])
local now_s = seconds(now_ms)
local conversion_stats = ARGV[5]   -- sends and verifications by purpose (see enqueue.lua)
local max_purposes = tonumber(ARGV[6])

redis.call("DEL", KEYS[1])
redis.call("HINCRBY", KEYS[2], "passed", 1)
for i = 3, #KEYS do
  if redis.call("GET", KEYS[i]) == ticket then redis.call("DEL", KEYS[i]) end
end
local record = record_prefix .. ticket
local rec = redis.call("HMGET", record, "state", "pump_sent", "pump_ok", "purpose")
if rec[1] == "sent" then
  redis.call("HSET", record, "state", "verified", "updated_at", now_s, "verified_at", now_s)
  count_minute(minute_prefix, now_ms, "verified")
  count_purpose(conversion_stats, "verified", rec[4] or "unknown", max_purposes)
  -- the pumping breaker's conversion: a verified send of its window, scored by when it was sent
  local sent_ms = rec[2] and redis.call("ZSCORE", rec[2], ticket)
  if sent_ms then
    redis.call("ZADD", rec[3], sent_ms, ticket)
    redis.call("PEXPIRE", rec[3], math.max(redis.call("PTTL", rec[2]), 1))
  end
end
return ticket
