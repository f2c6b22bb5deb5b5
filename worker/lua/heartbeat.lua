-- A worker process says it is alive and which sends it holds (reserved or running).
--
-- KEYS[1] live workers (ZSET, scored by heartbeat ms), KEYS[2] this worker's held set,
-- KEYS[3] sends not yet final (the recovery index)
-- ARGV[1] worker id, ARGV[2] held grace ms, ARGV[3] held set TTL ms, ARGV[4..] the held tickets
-- Each held send's next look is pushed back by the grace: its holder vouches for it. Returns how
-- many tickets are held.

local worker_id = ARGV[1]
local grace_ms = tonumber(ARGV[2])
local held_ttl_ms = tonumber(ARGV[3])
local HELD_AT = 4
local now_ms = clock_ms("")

redis.call("ZADD", KEYS[1], now_ms, worker_id)
redis.call("DEL", KEYS[2])
for i = HELD_AT, #ARGV do
  redis.call("SADD", KEYS[2], ARGV[i])
  redis.call("ZADD", KEYS[3], "XX", "GT", now_ms + grace_ms, ARGV[i])
end
if #ARGV >= HELD_AT then redis.call("PEXPIRE", KEYS[2], held_ttl_ms) end
return #ARGV - HELD_AT + 1
