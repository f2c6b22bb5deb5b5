-- Take the parked sends of a lane whose reserved rate slot is (nearly) here, for publishing.
--
-- KEYS[1] the lane's parked sends (ZSET, scored by slot ms), KEYS[2] sends not yet final
-- ARGV[1] how far ahead of its slot a send is published (ms), ARGV[2] at most this many,
-- ARGV[3] key prefix of send records, ARGV[4] ms until the sweep looks for a published send again
-- Returns {ticket, masked, purpose, deadline_at} per send to publish (a send no longer parked, or
-- gone, is dropped from the lane's set).

local lookahead_ms = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local record_prefix = ARGV[3]
local grace_ms = tonumber(ARGV[4])
local now_ms = clock_ms("")

local out = {}
for _, ticket in ipairs(redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", now_ms + lookahead_ms, "LIMIT", 0, limit)) do
  redis.call("ZREM", KEYS[1], ticket)
  local rec = redis.call("HMGET", record_prefix .. ticket, "state", "masked", "purpose", "deadline_at", "slot_at")
  if rec[1] == "queued" and rec[5] then
    redis.call("ZADD", KEYS[2], now_ms + grace_ms, ticket)
    table.insert(out, {ticket, rec[2], rec[3], rec[4]})
  end
end
return out
