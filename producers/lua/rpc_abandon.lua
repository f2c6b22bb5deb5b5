-- The caller's wait ran out: settle the call once, atomically with any worker's claim or reply.
--
-- KEYS[1] the call's claim key, KEYS[2] its reply list
-- Returns one of
--   {"answer", text}  the answer arrived just now: use it (the reply list is deleted)
--   {"claimed"}       a worker is asking the provider: its answer will be dropped, and since the
--                     provider may judge the code, the caller keeps the attempt counted
--   {"unclaimed"}     no worker took it, and none ever will (past the deadline, or marked
--                     abandoned until then): the caller gives the attempt back
-- Nothing is left behind except, when the caller's clock ran fast, an "abandoned" marker that
-- expires at the deadline.

local deadline_ms = tonumber(ARGV[1])
local now_ms = clock_ms(ARGV[2])

local answer = redis.call("LPOP", KEYS[2])
if answer then
  redis.call("DEL", KEYS[2])
  return {"answer", answer}
end
local holder = redis.call("GET", KEYS[1])
if holder == "claimed" then
  redis.call("SET", KEYS[1], "gone", "KEEPTTL")
  return {"claimed"}
end
if now_ms < deadline_ms and not holder then
  redis.call("SET", KEYS[1], "abandoned", "PX", deadline_ms - now_ms + 1)
end
return {"unclaimed"}
