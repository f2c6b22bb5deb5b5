-- A worker claims a send before calling the provider: the execution-time dedupe.
--
-- KEYS[1] record hash, KEYS[2] lease key, KEYS[3] sends not yet final (the recovery index)
-- Returns
--   {"missing"}                      no record (never admitted, or past its TTL)
--   {"done", state}                  already sent / verified / failed / expired: do nothing
--   {"busy", lease ms left}          another run holds the lease: leave the send to it
--   {"expired", reason}              the deadline passed; recorded as expired
--   {"claimed", sealed phone, lane, created_at, deadline_at, attempts, ambiguous_since, now ms,
--    version, slot_at, purpose, calls key}
--     ambiguous_since is "" unless an earlier attempt may have reached the provider (a read
--     timeout, or a worker that died while sending): the caller must not send a second code.
--     now ms is the server clock, so the worker can compare its own clock with the record's times.
--     slot_at is "" or the rate slot (s) an earlier run reserved for this send: it is this run's
--     to use, and is cleared here, so a run that dies with it takes a fresh one next time.
--     calls key names the number's log of recent provider calls (the record's "calls_key"): the
--     claim enters this send in it, since a claimed run may call the provider at any moment.

local lease_ms = tonumber(ARGV[1])
local token = ARGV[2]                    -- identifies this run's lease
local now_ms = clock_ms(ARGV[3])
local minute_prefix = ARGV[4]
local ticket = ARGV[5]
local calls_window_ms = tonumber(ARGV[6])  -- how long a call can explain a biz.FREQUENCY
local now_s = seconds(now_ms)

local rec = redis.call("HMGET", KEYS[1], "state", SEALED_PHONE, "lane", "created_at", "deadline_at",
                       "ambiguous_since", "last_attempt_at", "v", "slot_at", "purpose", "calls_key")
local state = rec[1]
if not state then
  redis.call("ZREM", KEYS[3], ticket)
  return {"missing"}
end
if is_final(state) then
  redis.call("ZREM", KEYS[3], ticket)
  return {"done", state}
end
local left = redis.call("PTTL", KEYS[2])
if left > 0 then return {"busy", tostring(left)} end

local ambiguous = rec[6] or ""
if state == "sending" and ambiguous == "" then
  -- the run that held this send died mid-call: its request may have reached the provider
  ambiguous = rec[7] or now_s
  redis.call("HSET", KEYS[1], "ambiguous_since", ambiguous)
end
if now_ms / 1000 > tonumber(rec[5]) then
  -- too late to be useful; if an SMS may have gone out, say so
  local reason = "deadline_passed"
  if ambiguous ~= "" then reason = "ambiguous_expired" end
  redis.call("HSET", KEYS[1], "state", "expired", "reason", reason, "updated_at", now_s)
  redis.call("HDEL", KEYS[1], "slot_at", SEALED_PHONE)
  redis.call("ZREM", KEYS[3], ticket)
  count_minute(minute_prefix, now_ms, "expired")
  return {"expired", reason}
end

redis.call("SET", KEYS[2], token, "PX", lease_ms)
redis.call("ZADD", KEYS[3], now_ms + lease_ms, ticket)
local attempts = redis.call("HINCRBY", KEYS[1], "attempts", 1)
redis.call("HSET", KEYS[1], "state", "sending", "updated_at", now_s, "last_attempt_at", now_s)
redis.call("HDEL", KEYS[1], "slot_at")
local calls = rec[11]
if calls then
  redis.call("ZADD", calls, now_ms, ticket)
  redis.call("ZREMRANGEBYSCORE", calls, "-inf", now_ms - calls_window_ms)
  redis.call("PEXPIRE", calls, calls_window_ms)
end
return {"claimed", rec[2], rec[3], rec[4], rec[5], tostring(attempts), ambiguous, tostring(now_ms),
        rec[8] or "", rec[9] or "", rec[10] or "", calls or ""}
