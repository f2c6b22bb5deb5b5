-- Give back a check reservation whose provider call surely reached no verdict.
--
-- KEYS[1] the answer counter of the code the reservation was taken against
-- Never creates the key and never goes below zero: a pass or the code's expiry may have cleared
-- the counter while the call was in flight, and then there is nothing to give back. The counter
-- belongs to one code (one send's ticket), so a refund cannot lower a newer code's count.

local used = tonumber(redis.call("GET", KEYS[1]) or "0")
if used > 0 then redis.call("DECR", KEYS[1]) end
return used
