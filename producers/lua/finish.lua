-- Record how a run ended. The first final state wins; a late duplicate cannot overwrite it.
--
-- KEYS[1] record hash, KEYS[2] lease key, KEYS[3] newest-sent-ticket key of the number,
-- KEYS[4] wrong-answer counter of the number
-- ARGV[1] new state: sent | failed | expired, or queued to hand the send back (to wait for the
--         rate limiter, or after Redis failed mid-run)
-- ARGV[2] now ms or "", ARGV[3] code TTL s (for KEYS[3]), ARGV[4] ticket,
-- ARGV[5] key prefix of the per-minute outcome counters,
-- ARGV[6] lease token of the run, or "" for a decision made outside a run (an expired message)
-- ARGV[7..] field, value pairs to store (reason, request_id, biz_id, ambiguous_since, …)
-- Returns the state the record holds afterwards, or "missing".

local now_ms = clock_ms(ARGV[2])
local now_s = string.format("%.3f", now_ms / 1000)

local rec = redis.call("HMGET", KEYS[1], "state", "ambiguous_since")
local state = rec[1]
if not state then return "missing" end
if state == "sent" or state == "verified" or state == "failed" or state == "expired" then
  return state
end
local new_state = ARGV[1]
if ARGV[6] ~= "" and redis.call("GET", KEYS[2]) ~= ARGV[6] then
  -- this run's lease ran out and another run may own the send now: only a final state may land
  if new_state == "queued" then return state end
end

redis.call("HSET", KEYS[1], "state", new_state, "updated_at", now_s)
for i = 7, #ARGV, 2 do
  if ARGV[i] ~= "ambiguous_since" or not rec[2] then  -- keep the earliest ambiguous attempt
    redis.call("HSET", KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
if new_state == "expired" and (state == "sending" or rec[2]) then
  -- the send ran out of time after a request that may have reached the provider
  redis.call("HSET", KEYS[1], "reason", "ambiguous_expired")
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
