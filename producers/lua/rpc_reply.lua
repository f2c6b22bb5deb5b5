-- A check worker answers: push the answer for the waiting caller, unless the caller is gone.
--
-- KEYS[1] the call's claim key, KEYS[2] its reply list
-- Returns 1 when the answer was pushed, 0 when the caller had given up (the answer is dropped:
-- only the caller applies a verdict, so a late one never counts and never passes a check).

local answer = ARGV[1]
local reply_ttl_ms = tonumber(ARGV[2])     -- a short life: nobody else will ever read it

local holder = redis.call("GET", KEYS[1])
redis.call("DEL", KEYS[1])
if holder ~= "claimed" then return 0 end
redis.call("RPUSH", KEYS[2], answer)
redis.call("PEXPIRE", KEYS[2], reply_ttl_ms)
return 1
