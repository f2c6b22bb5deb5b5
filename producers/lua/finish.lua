-- Record how a run ended. The first final state wins; a late duplicate cannot overwrite it.
--
-- KEYS[1] record hash, KEYS[2] lease key, KEYS[3] sends not yet final (the recovery index),
-- KEYS[4] sends to re-publish at once, KEYS[5] the number's live-code key (its current name; only
-- for "sent"), KEYS[6..] its names under older hash keys (a rotation), cleared when a new code is sent
-- Returns the state the record holds afterwards, or "missing".
-- A final state drops the sealed phone number from the record.

local new_state = ARGV[1]      -- sent | failed | expired, or queued to hand the send back: parked
                               -- until its reserved rate slot (a slot_at field is given), or to be
                               -- re-published at once (Redis failed mid-run)
local now_ms = clock_ms(ARGV[2])
local code_ttl_s = tonumber(ARGV[3])   -- how long KEYS[5] names the number's live code
local ticket = ARGV[4]
local minute_prefix = ARGV[5]
local token = ARGV[6]          -- the run's lease token, or "" for a decision made outside a run
local dispatch_grace_ms = tonumber(ARGV[7])
local due_prefix = ARGV[8]     -- + lane: the lane's sends waiting for their rate slot
local FIELDS_AT = 9            -- then field, value pairs to store (reason, request_id, biz_id, …)
local LIVE_CODE_AT = 5
local now_s = seconds(now_ms)

local rec = redis.call("HMGET", KEYS[1], "state", "ambiguous_since", "lane")
local state = rec[1]
if not state then return "missing" end
if is_final(state) then return state end
local due_key = due_prefix .. (rec[3] or "")
local lease = redis.call("GET", KEYS[2])
if token == "" and lease then
  -- a decision made outside any run (an expired duplicate message) never overrides a live run
  return state
end
if token ~= "" and lease ~= token and new_state ~= "sent" then
  -- this run's lease ran out (its process stood still) and another run may own the send now: only
  -- the provider's OK, a fact, may land. Its failure may be the other run's doing (a FREQUENCY
  -- refusal caused by that run's SMS), and the other run, or the next, ends the send anyway.
  return state
end

redis.call("HSET", KEYS[1], "state", new_state, "updated_at", now_s)
local slot_at = nil
for i = FIELDS_AT, #ARGV, 2 do
  if ARGV[i] == "slot_at" then slot_at = tonumber(ARGV[i + 1]) end
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
  redis.call("SET", KEYS[LIVE_CODE_AT], ticket, "EX", code_ttl_s)
  for i = LIVE_CODE_AT + 1, #KEYS do redis.call("DEL", KEYS[i]) end
end
redis.call("DEL", KEYS[2])
if new_state == "queued" then
  if slot_at then
    -- parked: the recovery sweep publishes it again for its slot; until then no worker holds it
    redis.call("ZADD", due_key, math.floor(slot_at * 1000), ticket)
    redis.call("ZADD", KEYS[3], math.floor(slot_at * 1000) + dispatch_grace_ms, ticket)
  else
    redis.call("ZADD", KEYS[4], now_ms, ticket)
    redis.call("ZADD", KEYS[3], now_ms + dispatch_grace_ms, ticket)
  end
else
  redis.call("HDEL", KEYS[1], "slot_at", SEALED_PHONE)
  redis.call("ZREM", KEYS[3], ticket)
  redis.call("ZREM", KEYS[4], ticket)
  redis.call("ZREM", due_key, ticket)
  count_minute(minute_prefix, now_ms, new_state)
end
return new_state
