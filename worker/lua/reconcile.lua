-- Reconcile the records with the queues: find the sends nobody holds and hand them out again.
--
-- KEYS[1] sends not yet final (ZSET, scored by when to look next, ms), KEYS[2] sends to re-publish
-- at once (the orphans of dead workers, runs handed back)
-- ARGV[1] at most this many sends per call, ARGV[2] ms until a re-published send is looked at again,
-- ARGV[3] key prefix of send records, ARGV[4] key prefix of leases, ARGV[5] key prefix of lane
-- queues ("" when the broker is not this Redis), ARGV[6] key prefix of per-minute counters
--
-- A send is looked at when its time comes (nobody vouched for it since) or when it is an orphan:
--   record gone or final            dropped from the index
--   a run holds its lease           looked at again when the lease would lapse
--   its deadline passed             expired (ambiguous_expired if an SMS may be out), dropped
--   parked, slot not yet due        left to the lane's parked set
--   queued (not an orphan, not parked), and its lane's queue still holds messages: its message may
--                                   be one of them; looked at again later
--   otherwise                       re-published: its message was lost with a worker, or by the
--                                   broker between its pop and its unacked copy
-- Returns {ticket, lane, masked, purpose, deadline_at} per send to re-publish.

local limit = tonumber(ARGV[1])
local grace_ms = tonumber(ARGV[2])
local record_prefix, lease_prefix, queue_prefix, minute_prefix = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local now_ms = clock_ms("")
local now_s = seconds(now_ms)
local out = {}

local function look(ticket, orphan)
  local record = record_prefix .. ticket
  local rec = redis.call("HMGET", record, "state", "lane", "masked", "purpose", "deadline_at",
                         "ambiguous_since", "slot_at")
  local state = rec[1]
  if not state or is_final(state) then
    redis.call("ZREM", KEYS[1], ticket)
    return
  end
  local lease_left = redis.call("PTTL", lease_prefix .. ticket)
  if lease_left > 0 then
    redis.call("ZADD", KEYS[1], now_ms + lease_left, ticket)
    return
  end
  if now_ms / 1000 > tonumber(rec[5]) then
    local reason = "deadline_passed"
    if state == "sending" or rec[6] then reason = "ambiguous_expired" end
    redis.call("HSET", record, "state", "expired", "reason", reason, "updated_at", now_s)
    redis.call("HDEL", record, "slot_at", SEALED_PHONE)  -- a final record keeps no number
    redis.call("ZREM", KEYS[1], ticket)
    count_minute(minute_prefix, now_ms, "expired")
    return
  end
  if state == "queued" and rec[7] and tonumber(rec[7]) * 1000 > now_ms then
    redis.call("ZADD", KEYS[1], math.floor(tonumber(rec[7]) * 1000) + grace_ms, ticket)
    return
  end
  if not orphan and state == "queued" and not rec[7] and queue_prefix ~= "" and
     redis.call("LLEN", queue_prefix .. rec[2]) > 0 then
    redis.call("ZADD", KEYS[1], now_ms + grace_ms, ticket)
    return
  end
  redis.call("ZADD", KEYS[1], now_ms + grace_ms, ticket)
  table.insert(out, {ticket, rec[2], rec[3], rec[4], rec[5]})
end

for _, ticket in ipairs(redis.call("ZRANGE", KEYS[2], 0, limit - 1)) do
  redis.call("ZREM", KEYS[2], ticket)
  look(ticket, true)
end
for _, ticket in ipairs(redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", now_ms, "LIMIT", 0, limit)) do
  look(ticket, false)
end
return out
