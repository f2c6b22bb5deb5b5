-- Count a send that went ahead of its lane's reservations against the lane's rate all the same:
-- push the lane limiter's theoretical arrival time (TAT) back by one emission interval. Used by
-- worker/limiter.py (UpstreamLimiter.borrow) for a retry that must reach the provider inside its
-- resend interval, so that the lane's rate still holds over time.
--
-- KEYS[1] the lane limiter's TAT (integer µs), ARGV[1] its emission interval (µs)
-- Returns the new TAT.

local interval_us = tonumber(ARGV[1])
local now_us = clock_ms("") * 1000
local tat = math.max(tonumber(redis.call("GET", KEYS[1]) or "0") or 0, now_us) + interval_us
redis.call("SET", KEYS[1], string.format("%d", tat), "PX", math.ceil((tat - now_us) / 1000))
return tat
