-- Find the worker processes that stopped beating and hand their sends to the living.
--
-- KEYS[1] live workers (ZSET, scored by heartbeat ms), KEYS[2] sends to re-publish at once
-- ARGV[1] ms without a heartbeat after which a worker is dead, ARGV[2] key prefix of held sets,
-- ARGV[3] key prefix of send records
-- Every send a dead worker held that is not final is queued for re-publishing (the reconcile step
-- still checks for a live lease first). Returns the ids of the workers reaped.

local dead_after_ms = tonumber(ARGV[1])
local held_prefix = ARGV[2]
local record_prefix = ARGV[3]
local now_ms = clock_ms("")

local dead = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", now_ms - dead_after_ms)
for _, worker_id in ipairs(dead) do
  local held_key = held_prefix .. worker_id
  for _, ticket in ipairs(redis.call("SMEMBERS", held_key)) do
    if not is_final(redis.call("HGET", record_prefix .. ticket, "state")) then
      redis.call("ZADD", KEYS[2], now_ms, ticket)
    end
  end
  redis.call("DEL", held_key)
  redis.call("ZREM", KEYS[1], worker_id)
end
return dead
