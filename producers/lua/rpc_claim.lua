-- A check worker takes a check (or a ping) before it asks the provider anything.
--
-- KEYS[1] the call's claim key (constants.rpc_claim_key)
-- Returns "claimed" (ask the provider, then reply with rpc_reply), "late" (the caller's deadline
-- passed: it has given up or is about to), "abandoned" (the caller gave up early, or another copy
-- of the message is being answered) or "answered" (a copy of a call answered already). The deadline
-- and "now" are both the Redis server's clock, so no host's clock can make a worker act for a
-- caller that is gone.

local deadline_ms = tonumber(ARGV[1])
local hold_ms = tonumber(ARGV[2])          -- the longest a worker may take to answer, from now
local now_ms = clock_ms(ARGV[3])

local holder = redis.call("GET", KEYS[1])
if holder == "answered" then return "answered" end
if holder then return "abandoned" end
if now_ms >= deadline_ms then return "late" end
redis.call("SET", KEYS[1], "claimed", "PX", (deadline_ms - now_ms) + hold_ms)
return "claimed"
