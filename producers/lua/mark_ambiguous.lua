-- Remember that a run's attempt may have reached the provider: the earliest such attempt stays.
-- Only on a record that exists: after Redis lost its data, a write here would create a record
-- holding nothing else (no state, no TTL), which a status lookup could not read.
--
-- KEYS[1] record hash; ARGV[1] when the attempt began (server time, seconds with ms)
-- Returns 1 when recorded, 0 otherwise.

if redis.call("EXISTS", KEYS[1]) == 0 then return 0 end
return redis.call("HSETNX", KEYS[1], "ambiguous_since", ARGV[1])
