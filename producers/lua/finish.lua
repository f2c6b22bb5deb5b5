-- Record how a run ended. The first final state wins; a late duplicate cannot overwrite it.
--
-- KEYS[1] record hash, KEYS[2] lease key, KEYS[3] the number's live-code key (its current name),
-- KEYS[4..] its names under older hash keys (a rotation), cleared when a new code is sent
-- Returns the state the record holds afterwards, or "missing".
-- A final state drops the sealed phone number from the record.

local new_state = ARGV[1]      -- sent | failed | expired, or queued to hand the send back (to wait
                               -- for the rate limiter, or after Redis failed mid-run)
local now_ms = clock_ms(ARGV[2])
local code_ttl_s = tonumber(ARGV[3])   -- how long KEYS[3] names the number's live code
local ticket = ARGV[4]
local minute_prefix = ARGV[5]
local token = ARGV[6]          -- the run's lease token, or "" for a decision made outside a run
local FIELDS_AT = 7            -- then field, value pairs to store (reason, request_id, biz_id, …)
local now_s = seconds(now_ms)

local rec = redis.call("HMGET", KEYS[1], "state", "ambiguous_since")
local state = rec[1]
if not state then return "missing" end
if is_final(state) then return state end
if token ~= "" and redis.call("GET", KEYS[2]) ~= token then
  -- this run's lease ran out and another run may own the send now: only a final state may land
  if new_state == "queued" then return state end
end

redis.call("HSET", KEYS[1], "state", new_state, "updated_at", now_s)
for i = FIELDS_AT, #ARGV, 2 do
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
  -- the live code is now this send's: its own answer counter starts from zero
  redis.call("SET", KEYS[3], ticket, "EX", code_ttl_s)
  for i = 4, #KEYS do redis.call("DEL", KEYS[i]) end
end
if is_final(new_state) then redis.call("HDEL", KEYS[1], SEALED_PHONE) end
redis.call("DEL", KEYS[2])
if new_state ~= "queued" then count_minute(minute_prefix, now_ms, new_state) end
return new_state
