-- Admit a send: abuse limits, idempotency and the send record, all or nothing, in one round trip.
--
-- KEYS[1]   record hash                  smsq:send:<ticket>
-- KEYS[2]   sends not yet final          smsq:inflight (the recovery sweep's index)
-- KEYS[3..] the idempotency key's names (ARGV[4] of them: the current first, then older hash keys')
-- then      each rule's sliding-window logs (see read_rules in the prelude)
-- Returns one of
--   {"ok", ticket, now_ms, monitored rule names joined by ","}
--   {"duplicate", ticket, state, created_at, lane, purpose}  (the original send's)
--   {"limited", rule name, retry_after_ms}
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
local IDEMPOTENCY_AT = 3
local rules = read_rules(16, IDEMPOTENCY_AT + idempotency_names)

for i = 1, idempotency_names do
  local existing = redis.call("GET", KEYS[IDEMPOTENCY_AT + i - 1])
  if existing then
    local rec = redis.call("HMGET", record_prefix .. existing, "state", "created_at", "lane", "purpose")
    return {"duplicate", existing, rec[1] or "expired", rec[2] or "", rec[3] or lane, rec[4] or purpose}
  end
end

local limited, monitored = full_rule(rules, now_ms)
if limited then return {"limited", limited[1], limited[2]} end
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
count_minute(minute_prefix, now_ms, "queued")
return {"ok", ticket, tostring(now_ms), table.concat(monitored, ",")}
