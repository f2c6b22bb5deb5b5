-- Renew the leases of the runs one process has in flight, so a live run keeps its send.
--
-- KEYS[i], i = 1..n   the lease keys of the runs; KEYS[n + 1] sends not yet final (the index)
-- ARGV[1] lease ms, then per run: its token, its ticket
-- A lease another run now holds (this run's lapsed) is left alone. Returns the leases renewed.

local lease_ms = tonumber(ARGV[1])
local n = #KEYS - 1
local inflight = KEYS[n + 1]
local now_ms = clock_ms("")
local renewed = 0
for i = 1, n do
  local token, ticket = ARGV[2 * i], ARGV[2 * i + 1]
  if redis.call("GET", KEYS[i]) == token then
    redis.call("PEXPIRE", KEYS[i], lease_ms)
    redis.call("ZADD", inflight, "XX", now_ms + lease_ms, ticket)
    renewed = renewed + 1
  end
end
return renewed
