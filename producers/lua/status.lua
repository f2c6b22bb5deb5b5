-- A status lookup: the record and the server's clock, in one round trip (read only).
--
-- KEYS[1] the send's record
-- Returns {the record's fields and values, flat (empty when it is gone), {seconds, microseconds}}.

return {redis.call("HGETALL", KEYS[1]), redis.call("TIME")}
