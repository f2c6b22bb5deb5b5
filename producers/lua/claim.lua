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
--    then, when a rate token was asked for (below), {wait_us, reserved, binding} as gcra_take
--    answers, else three "".
--
-- The run's rate token, in the same round trip (optional): KEYS[4..3+n] the TAT keys of the send's
-- limiters (its lane's, then the account's), KEYS[4+n..3+2n] their penalty keys; ARGV[7] the
-- longest wait to reserve for, µs ("" asks for no token); ARGV[8] the lane those limiters belong
-- to; ARGV[9..] interval, burst of each limiter. A token is taken only for a run that claims a send
-- of that lane with neither a reserved slot nor an ambiguous attempt (those take theirs their own
-- way, worker/delivery.py), and never for longer than the send's deadline.

local lease_ms = tonumber(ARGV[1])
local token = ARGV[2]                    -- identifies this run's lease
local now_ms = clock_ms(ARGV[3])
local minute_prefix = ARGV[4]
local ticket = ARGV[5]
local calls_window_ms = tonumber(ARGV[6])  -- how long a call can explain a biz.FREQUENCY
local rate_max_wait_us = ARGV[7]
local rate_lane = ARGV[8]
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
local rate = {"", "", ""}
local limiters = (#KEYS - 3) / 2
if rate_max_wait_us and rate_max_wait_us ~= "" and limiters > 0 and rec[3] == rate_lane
   and not rec[9] and ambiguous == "" then
  local simulated = ARGV[3] ~= nil and ARGV[3] ~= ""
  local now_us = now_ms * 1000
  if not simulated then
    local t = redis.call("TIME")
    now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
  end
  local room_us = math.floor(tonumber(rec[5]) * 1000000) - now_us
  local max_wait = math.max(0, math.min(tonumber(rate_max_wait_us), room_us))
  local state, penalty, intervals, bursts = {}, {}, {}, {}
  for i = 1, limiters do
    state[i], penalty[i] = KEYS[3 + i], KEYS[3 + limiters + i]
    intervals[i], bursts[i] = tonumber(ARGV[7 + 2 * i]), tonumber(ARGV[8 + 2 * i])
  end
  local taken = gcra_take(state, penalty, intervals, bursts, max_wait, now_us, simulated)
  rate = {tostring(taken[1]), tostring(taken[2]), tostring(taken[3])}
end
return {"claimed", rec[2], rec[3], rec[4], rec[5], tostring(attempts), ambiguous, tostring(now_ms),
        rec[8] or "", rec[9] or "", rec[10] or "", calls or "", rate[1], rate[2], rate[3]}
