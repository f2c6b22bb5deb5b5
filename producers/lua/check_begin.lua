-- Reserve one provider check for a number's current code, unless it is locked.
--
-- KEYS[1] wrong-answer counter of the number, KEYS[2] global check counters (asked, locked)
-- Returns {"ok", attempts used including this one} or {"locked", ms until the window passes}.
-- The reservation is made before the provider is called, so under any concurrency at most
-- max_failures checks reach the provider; a pass deletes the counter, an unanswered call gives one back.

local max_failures = tonumber(ARGV[1])
local window_ms = tonumber(ARGV[2])    -- the lock lasts the code's life

local used = tonumber(redis.call("GET", KEYS[1]) or "0")
if used >= max_failures then
  local ttl = redis.call("PTTL", KEYS[1])
  if ttl < 0 then ttl = window_ms end
  redis.call("HINCRBY", KEYS[2], "locked", 1)
  return {"locked", tostring(ttl)}
end
used = redis.call("INCR", KEYS[1])
if used == 1 then redis.call("PEXPIRE", KEYS[1], window_ms) end
redis.call("HINCRBY", KEYS[2], "asked", 1)
return {"ok", tostring(used)}
