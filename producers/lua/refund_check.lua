-- Give back a check reservation whose provider call got no answer.
--
-- KEYS[1] wrong-answer counter of the number
-- Never creates the key and never goes below zero: a pass, a new code or the window may have
-- cleared the counter while the call was in flight, and then there is nothing to give back.

local used = tonumber(redis.call("GET", KEYS[1]) or "0")
if used > 0 then redis.call("DECR", KEYS[1]) end
return used
