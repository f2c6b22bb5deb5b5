-- A check worker answers: push the answer for the waiting caller, unless the caller is gone.
--
-- KEYS[1] the call's claim key, KEYS[2] its reply list
-- Returns 1 when the answer was pushed, 0 when the caller had given up (the answer is dropped:
-- only the caller applies a verdict, so a late one never counts and never passes a check).
-- The claim key stays, as "answered", until the call's deadline: a copy of the message (a publish
-- retried after a lost reply, a broker's redelivery) finds it and asks the provider nothing.
-- After the deadline rpc_claim.lua refuses any copy anyway, so nothing is kept past it.

local answer = ARGV[1]
local reply_ttl_ms = tonumber(ARGV[2])     -- a short life: nobody else will ever read it
local deadline_ms = tonumber(ARGV[3])
local now_ms = clock_ms(ARGV[4])

local holder = redis.call("GET", KEYS[1])
if now_ms < deadline_ms then
  redis.call("SET", KEYS[1], "answered", "PX", deadline_ms - now_ms)
else
  redis.call("DEL", KEYS[1])
end
if holder ~= "claimed" then return 0 end
redis.call("RPUSH", KEYS[2], answer)
redis.call("PEXPIRE", KEYS[2], reply_ttl_ms)
return 1
