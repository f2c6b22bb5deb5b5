-- A worker claims a send before calling the provider: the execution-time dedupe.
--
-- KEYS[1] record hash, KEYS[2] lease key
-- Returns
--   {"missing"}                      no record (never admitted, or past its TTL)
--   {"done", state}                  already sent / verified / failed / expired: do nothing
--   {"busy", lease ms left}          another run holds the lease: come back when it ends
--   {"expired", reason}              the deadline passed; recorded as expired
--   {"claimed", sealed phone, lane, created_at, deadline_at, attempts, ambiguous_since, now ms, version}
--     ambiguous_since is "" unless an earlier attempt may have reached the provider (a read
--     timeout, or a worker that died while sending): the caller must not send a second code.
--     now ms is the server clock, so the worker can compare its own clock with the record's times.

local lease_ms = tonumber(ARGV[1])
local token = ARGV[2]                    -- identifies this run's lease
local now_ms = clock_ms(ARGV[3])
local minute_prefix = ARGV[4]
local now_s = seconds(now_ms)

local rec = redis.call("HMGET", KEYS[1], "state", SEALED_PHONE, "lane", "created_at", "deadline_at",
                       "ambiguous_since", "last_attempt_at", "v")
local state = rec[1]
if not state then return {"missing"} end
if is_final(state) then return {"done", state} end
if state == "sending" then
  local left = redis.call("PTTL", KEYS[2])
  if left > 0 then return {"busy", tostring(left)} end
end

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
  redis.call("HDEL", KEYS[1], SEALED_PHONE)
  count_minute(minute_prefix, now_ms, "expired")
  return {"expired", reason}
end

redis.call("SET", KEYS[2], token, "PX", lease_ms)
local attempts = redis.call("HINCRBY", KEYS[1], "attempts", 1)
redis.call("HSET", KEYS[1], "state", "sending", "updated_at", now_s, "last_attempt_at", now_s)
return {"claimed", rec[2], rec[3], rec[4], rec[5], tostring(attempts), ambiguous, tostring(now_ms), rec[8] or ""}
