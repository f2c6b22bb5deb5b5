-- Record how a send ended. The first final state wins; a late duplicate cannot overwrite it.
--
-- KEYS[1] record hash, KEYS[2] lease key, KEYS[3] newest-sent-ticket key of the number,
-- KEYS[4] wrong-answer counter of the number
-- ARGV[1] final state (sent | failed | expired | queued to hand the send back, e.g. to wait for
--         the rate limiter), ARGV[2] now ms or "", ARGV[3] code TTL s (for KEYS[3]),
-- ARGV[4] ticket, ARGV[5] key prefix of the per-minute outcome counters,
-- ARGV[6..] field, value pairs to store (reason, request_id, biz_id, …)
-- Returns the state the record holds afterwards, or "missing".

local now_ms = clock_ms(ARGV[2])
local now_s = string.format("%.3f", now_ms / 1000)

local state = redis.call("HGET", KEYS[1], "state")
if not state then return "missing" end
if state == "sent" or state == "verified" or state == "failed" or state == "expired" then
  redis.call("DEL", KEYS[2])
  return state
end

local new_state = ARGV[1]
redis.call("HSET", KEYS[1], "state", new_state, "updated_at", now_s)
for i = 6, #ARGV, 2 do
  redis.call("HSET", KEYS[1], ARGV[i], ARGV[i + 1])
end
if new_state == "sent" then
  redis.call("HSET", KEYS[1], "sent_at", now_s)
  redis.call("SET", KEYS[3], ARGV[4], "EX", tonumber(ARGV[3]))
  -- a new code resets the count of wrong answers
  redis.call("DEL", KEYS[4])
end
redis.call("DEL", KEYS[2])
if new_state ~= "queued" then
  -- sends per minute by outcome, for `smsq status` (kept two hours)
  local minute_key = ARGV[5] .. math.floor(now_ms / 60000)
  redis.call("HINCRBY", minute_key, new_state, 1)
  redis.call("EXPIRE", minute_key, 7200)
end
return new_state
