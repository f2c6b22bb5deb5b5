-- Admit a send: abuse limits, idempotency, the send record and its Celery message, all or nothing,
-- in one round trip.
--
-- KEYS[1]   record hash                  smsq:send:<ticket>
-- KEYS[2]   sends not yet final          smsq:inflight (the recovery sweep's index)
-- KEYS[3..] the pumping breaker's keys of the number's prefix and the purpose (ARGV[16] of them:
--           5 or more, or 0 when the breaker is off or the number is on the safe list): its sends
--           log, verified log, delivered log, trip key and strikes counter (see pumping_* below),
--           then its trip keys under older hash keys
-- then      the idempotency key's names (ARGV[4] of them: the current first, then older hash keys')
-- then      each rule's sliding-window logs (see read_rules in the prelude)
-- Returns one of
--   {"ok", ticket, now_ms, monitored rule names joined by ",", "tripped" or ""}
--   {"duplicate", ticket, state, created_at, lane, purpose}  (the original send's)
--   {"limited", rule name, retry_after_ms, "tripped" or ""}   ("pumping" names the breaker)
-- An idempotency key's name is a keyed digest of (number, purpose, key): the same key for another
-- number or purpose is another name, so it can neither return nor reveal that other send.

local ticket = ARGV[1]
local now_ms = clock_ms(ARGV[2])          -- "" = the server clock; tests pass simulated time
local record_ttl_s = tonumber(ARGV[3])
local idempotency_names = tonumber(ARGV[4])
local useful_life_s = tonumber(ARGV[5])   -- deadline = now + this
local sealed_phone, masked, purpose, lane = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local record_prefix = ARGV[10]            -- to read the state of an idempotent duplicate
local minute_prefix = ARGV[11]
local version = ARGV[12]                  -- schema version of the record
local idempotency_ttl_s = tonumber(ARGV[13])
local dispatch_grace_ms = tonumber(ARGV[14])  -- when the sweep first looks for the message
local calls_key = ARGV[15]                -- the number's log of provider calls (claim.lua writes it)
local pump_names = tonumber(ARGV[16])
local pump_mode = ARGV[17]                -- "enforce" refuses while tripped, "monitor" only reports
local pump_min_sends = tonumber(ARGV[18]) -- the breaker judges a window holding at least this many
local pump_min_conversion = tonumber(ARGV[19])  -- verified / sent below this trips it
local pump_window_ms = tonumber(ARGV[20])
local pump_cooldown_ms = tonumber(ARGV[21])     -- the first trip's; each repeat doubles it
local pump_max_cooldown_ms = tonumber(ARGV[22])
local pump_stats = ARGV[23]               -- the breaker's global counters
local pump_min_delivery = tonumber(ARGV[24])  -- delivered / sent below this trips it too (0: off)
local pump_receipt_grace_ms = tonumber(ARGV[25])  -- sends younger than this await their receipt
local conversion_stats = ARGV[26]         -- sends and verifications by purpose (verified.lua)
local max_purposes = tonumber(ARGV[27])   -- purposes counted apart; then "other"
-- The send's Celery message and its task-sent events, built by Celery (producers/outbound.py), pushed
-- here with the record, so an admitted send is always queued; none when another broker publishes it.
local outbound, rules_at = read_outbound(28)
local PUMP_AT = 3
local IDEMPOTENCY_AT = PUMP_AT + pump_names
local rules = read_rules(rules_at, IDEMPOTENCY_AT + idempotency_names)

for i = 1, idempotency_names do
  local existing = redis.call("GET", KEYS[IDEMPOTENCY_AT + i - 1])
  if existing then
    local rec = redis.call("HMGET", record_prefix .. existing, "state", "created_at", "lane", "purpose")
    return {"duplicate", existing, rec[1] or "expired", rec[2] or "", rec[3] or lane, rec[4] or purpose}
  end
end

local limited, monitored = full_rule(rules, now_ms)
if limited then return {"limited", limited[1], limited[2], ""} end

-- The pumping breaker: sends of one prefix and purpose that never turn into verifications.
local pump_sent, pump_ok, pump_dl = KEYS[PUMP_AT], KEYS[PUMP_AT + 1], KEYS[PUMP_AT + 2]
local pump_trip, pump_strikes = KEYS[PUMP_AT + 3], KEYS[PUMP_AT + 4]

-- true when the prefix's window shows pumping: too few of its sends verified or, with receipts
-- judged, delivered (only sends old enough to have their receipt count for delivery)
local function pumped(now_ms)
  local since = "(" .. (now_ms - pump_window_ms)
  local sent = redis.call("ZCOUNT", pump_sent, since, "+inf")
  if sent >= pump_min_sends and redis.call("ZCOUNT", pump_ok, since, "+inf") < pump_min_conversion * sent then
    return true
  end
  if pump_min_delivery <= 0 then return false end
  local settled = now_ms - pump_receipt_grace_ms
  local judged = redis.call("ZCOUNT", pump_sent, since, settled)
  return judged >= pump_min_sends
         and redis.call("ZCOUNT", pump_dl, since, settled) < pump_min_delivery * judged
end
local tripped = ""
if pump_names > 0 then
  -- a trip named under an older hash key (a key rotation) refuses as well, until it lifts
  local trip_left = redis.call("PTTL", pump_trip)
  for i = PUMP_AT + 5, IDEMPOTENCY_AT - 1 do
    trip_left = math.max(trip_left, redis.call("PTTL", KEYS[i]))
  end
  if trip_left > 0 then
    if pump_mode == "enforce" then
      redis.call("HINCRBY", pump_stats, "refused", 1)
      return {"limited", "pumping", tostring(trip_left), ""}
    end
    redis.call("HINCRBY", pump_stats, "monitored", 1)
    table.insert(monitored, "pumping")
  elseif pumped(now_ms) then
    -- trip: a fresh window after the cool-down, which doubles with every repeat in a day
    local strikes = redis.call("INCR", pump_strikes)
    redis.call("EXPIRE", pump_strikes, 86400)
    local cooldown = math.min(pump_cooldown_ms * 2 ^ (strikes - 1), pump_max_cooldown_ms)
    redis.call("SET", pump_trip, pump_mode, "PX", math.floor(cooldown))
    redis.call("DEL", pump_sent, pump_ok, pump_dl)
    tripped = "tripped"
    if pump_mode == "enforce" then
      redis.call("HINCRBY", pump_stats, "trips", 1)
      redis.call("HINCRBY", pump_stats, "refused", 1)
      return {"limited", "pumping", tostring(math.floor(cooldown)), tripped}
    end
    redis.call("HINCRBY", pump_stats, "monitor_trips", 1)
    redis.call("HINCRBY", pump_stats, "monitored", 1)
    table.insert(monitored, "pumping")
  end
end
record_event(rules, now_ms, ticket)

local now_s = seconds(now_ms)
redis.call("HSET", KEYS[1],
  "v", version, "state", "queued", SEALED_PHONE, sealed_phone, "masked", masked, "purpose", purpose,
  "lane", lane, "created_at", now_s, "updated_at", now_s,
  "deadline_at", seconds(now_ms + useful_life_s * 1000), "attempts", 0, "calls_key", calls_key)
redis.call("EXPIRE", KEYS[1], record_ttl_s)
redis.call("ZADD", KEYS[2], now_ms + dispatch_grace_ms, ticket)
if idempotency_names > 0 then
  redis.call("SET", KEYS[IDEMPOTENCY_AT], ticket, "EX", idempotency_ttl_s)
end
if pump_names > 0 then
  redis.call("ZADD", pump_sent, now_ms, ticket)
  redis.call("ZREMRANGEBYSCORE", pump_sent, "-inf", now_ms - pump_window_ms)
  redis.call("PEXPIRE", pump_sent, pump_window_ms)
  redis.call("ZREMRANGEBYSCORE", pump_ok, "-inf", now_ms - pump_window_ms)
  redis.call("ZREMRANGEBYSCORE", pump_dl, "-inf", now_ms - pump_window_ms)
  -- verified.lua and receipts.lua find the logs through the record: they never see the number
  redis.call("HSET", KEYS[1], "pump_sent", pump_sent, "pump_ok", pump_ok, "pump_dl", pump_dl)
end
queue_outbound(outbound)
count_minute(minute_prefix, now_ms, "queued")
count_purpose(conversion_stats, "sent", purpose, max_purposes)
return {"ok", ticket, tostring(now_ms), table.concat(monitored, ","), tripped}
