-- Admit a check: its limits (per client IP, for everyone) and a reservation against the number's
-- live code, unless that code is locked, all in one round trip.
--
-- KEYS[1] global check counters, KEYS[2..] the number's live-code key names (ARGV[5] of them: the
-- current first), then each rule's sliding-window logs (see read_rules in the prelude)
-- ARGV[8..]: the check task's Celery message (see read_outbound), queued only with a reservation
-- (none for a direct check, or one published after this script), see producers/outbound.py
-- Returns one of
--   {"limited", rule name, retry_after_ms}  a check limit refused: nothing counted
--   {"nocode"}                 no live code: the check fails at no cost (no provider call); it
--                              counts against the caller's limits, never against the number
--   {"wrongpurpose"}           the live code was sent for another purpose: fails the same way
--   {"locked", ticket, ms}     the live code had max_failures answers; ms until it expires
--   {"ok", ticket, used, now_ms}  reserved: answers counted against this code, this one included;
--                              now_ms, the server clock, anchors the deadline of a check's RPC
-- The reservation is taken before the provider is called, so under any concurrency at most
-- max_failures checks of one code reach the provider. It counts against the code (its send's
-- ticket), not the number: a new code starts afresh, and a refund can never cross a send.

local max_failures = tonumber(ARGV[1])
local now_ms = clock_ms(ARGV[2])
local event_id = ARGV[3]                   -- this check's member in the limit logs
local counter_prefix = ARGV[4]             -- + ticket = the code's answer counter
local live_names = tonumber(ARGV[5])
local purpose = ARGV[6]                    -- "" checks whatever purpose the live code has
local record_prefix = ARGV[7]              -- + ticket = its send record (which holds the purpose)
local outbound, rules_at = read_outbound(8)
local rules = read_rules(rules_at, 2 + live_names)

local limited = full_rule(rules, now_ms)
if limited then
  redis.call("HINCRBY", KEYS[1], "limited", 1)
  return {"limited", limited[1], limited[2]}
end
record_event(rules, now_ms, event_id)

local ticket, code_left_ms
for i = 1, live_names do
  ticket = redis.call("GET", KEYS[1 + i])
  if ticket then
    code_left_ms = redis.call("PTTL", KEYS[1 + i])
    break
  end
end
if not ticket then
  redis.call("HINCRBY", KEYS[1], "no_code", 1)
  return {"nocode"}
end
if code_left_ms < 0 then code_left_ms = 1000 end
if purpose ~= "" and redis.call("HGET", record_prefix .. ticket, "purpose") ~= purpose then
  redis.call("HINCRBY", KEYS[1], "wrong_purpose", 1)
  return {"wrongpurpose"}
end

local counter = counter_prefix .. ticket
local used = tonumber(redis.call("GET", counter) or "0")
if used >= max_failures then
  redis.call("HINCRBY", KEYS[1], "locked", 1)
  return {"locked", ticket, tostring(code_left_ms)}
end
used = redis.call("INCR", counter)
redis.call("PEXPIRE", counter, code_left_ms)  -- the count lives as long as its code
redis.call("HINCRBY", KEYS[1], "asked", 1)
queue_outbound(outbound)
return {"ok", ticket, tostring(used), tostring(now_ms)}
