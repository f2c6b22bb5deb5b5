-- Admit a send: abuse limits, idempotency and the send record, all or nothing, in one round trip.
--
-- KEYS[1]  record hash              smsq:send:<ticket>
-- KEYS[2]  idempotency string       smsq:idem:<key>   (a placeholder key when there is none)
-- KEYS[3..] one sliding-window log (ZSET) per rule; a key may appear once per rule using it
-- ARGV[1]  ticket id
-- ARGV[2]  now in ms, or "" to use the Redis server clock (tests pass simulated time)
-- ARGV[3]  record TTL in seconds
-- ARGV[4]  "1" when KEYS[2] is a real idempotency key
-- ARGV[5]  useful life of the send in seconds (deadline = now + this)
-- ARGV[6..9] phone, masked phone, purpose, lane
-- ARGV[10] key prefix of send records (to read the state of an idempotent duplicate)
-- ARGV[11] key prefix of the per-minute counters (HINCRBY <prefix><minute> queued 1)
-- ARGV[12] number of rules N, then per rule 4 values: limit, window ms, name, monitor ("1"/"0")
--
-- Returns one of
--   {"ok", ticket, now_ms, monitored rule names joined by ","}
--   {"duplicate", ticket, state, created_at, lane, purpose}  (the original send's)
--   {"conflict"}                       the idempotency key belongs to a send to another number
--   {"limited", rule name, retry_after_ms}
-- A rule's log holds one member per admitted send (the ticket), scored by admission time: the
-- send is allowed when fewer than `limit` members lie in (now - window, now].

local now_ms = clock_ms(ARGV[2])

if ARGV[4] == "1" then
  local existing = redis.call("GET", KEYS[2])
  if existing then
    local rec = redis.call("HMGET", ARGV[10] .. existing, "state", "created_at", "phone", "lane", "purpose")
    if rec[3] and rec[3] ~= ARGV[6] then return {"conflict"} end
    return {"duplicate", existing, rec[1] or "expired", rec[2] or "", rec[4] or ARGV[9], rec[5] or ARGV[8]}
  end
end

local n = tonumber(ARGV[12])
local monitored = {}
for i = 1, n do
  local base = 12 + (i - 1) * 4
  local limit = tonumber(ARGV[base + 1])
  local window = tonumber(ARGV[base + 2])
  local key = KEYS[2 + i]
  local count = redis.call("ZCOUNT", key, "(" .. (now_ms - window), "+inf")
  if count >= limit then
    if ARGV[base + 4] == "1" then
      table.insert(monitored, ARGV[base + 3])
    else
      -- the (count - limit + 1)-th oldest admission in the window must leave it first
      local oldest = redis.call("ZRANGEBYSCORE", key, "(" .. (now_ms - window), "+inf",
                                "WITHSCORES", "LIMIT", count - limit, 1)
      local retry_after = tonumber(oldest[2]) + window - now_ms
      return {"limited", ARGV[base + 3], tostring(retry_after)}
    end
  end
end

local ticket = ARGV[1]
local longest = {}
for i = 1, n do
  local key = KEYS[2 + i]
  local window = tonumber(ARGV[12 + (i - 1) * 4 + 2])
  if not longest[key] or window > longest[key] then longest[key] = window end
end
for key, window in pairs(longest) do
  redis.call("ZADD", key, now_ms, ticket)
  redis.call("ZREMRANGEBYSCORE", key, "-inf", now_ms - window)
  redis.call("PEXPIRE", key, window)
end

local now_s = string.format("%.3f", now_ms / 1000)
local deadline = string.format("%.3f", now_ms / 1000 + tonumber(ARGV[5]))
redis.call("HSET", KEYS[1],
  "state", "queued", "phone", ARGV[6], "masked", ARGV[7], "purpose", ARGV[8], "lane", ARGV[9],
  "created_at", now_s, "updated_at", now_s, "deadline_at", deadline, "attempts", 0)
redis.call("EXPIRE", KEYS[1], tonumber(ARGV[3]))
if ARGV[4] == "1" then
  redis.call("SET", KEYS[2], ticket, "EX", tonumber(ARGV[3]))
end
local minute_key = ARGV[11] .. math.floor(now_ms / 60000)
redis.call("HINCRBY", minute_key, "queued", 1)
redis.call("EXPIRE", minute_key, 7200)
return {"ok", ticket, tostring(now_ms), table.concat(monitored, ",")}
