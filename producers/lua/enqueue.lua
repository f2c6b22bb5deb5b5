-- Admit a send: abuse limits, idempotency and the send record, all or nothing, in one round trip.
--
-- KEYS[1]   record hash              smsq:send:<ticket>
-- KEYS[2]   idempotency string       smsq:idem:<key>   (a placeholder key when there is none)
-- KEYS[3]   sends not yet final      smsq:inflight     (the recovery sweep's index)
-- KEYS[4..] one sliding-window log (ZSET) per rule; a key may appear once per rule using it
-- Returns one of
--   {"ok", ticket, now_ms, monitored rule names joined by ","}
--   {"duplicate", ticket, state, created_at, lane, purpose}  (the original send's)
--   {"conflict"}                       the idempotency key belongs to a send to another number
--   {"limited", rule name, retry_after_ms}
-- A rule's log holds one member per admitted send (the ticket), scored by admission time: the
-- send is allowed when fewer than `limit` members lie in (now - window, now].

local ticket = ARGV[1]
local now_ms = clock_ms(ARGV[2])          -- "" = the server clock; tests pass simulated time
local record_ttl_s = tonumber(ARGV[3])
local has_idempotency_key = ARGV[4] == "1"
local useful_life_s = tonumber(ARGV[5])   -- deadline = now + this
local phone, masked, purpose, lane = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local record_prefix = ARGV[10]            -- to read the state of an idempotent duplicate
local minute_prefix = ARGV[11]
local version = ARGV[12]                  -- schema version of the record
local dispatch_grace_ms = tonumber(ARGV[13])  -- when the sweep first looks for the message
local rule_count = tonumber(ARGV[14])     -- then 4 values per rule: limit, window ms, name, monitor
local RULES_AT = 14

local function rule(i)
  local base = RULES_AT + (i - 1) * 4
  return {key = KEYS[3 + i], limit = tonumber(ARGV[base + 1]), window = tonumber(ARGV[base + 2]),
          name = ARGV[base + 3], monitor = ARGV[base + 4] == "1"}
end

if has_idempotency_key then
  local existing = redis.call("GET", KEYS[2])
  if existing then
    local rec = redis.call("HMGET", record_prefix .. existing, "state", "created_at", "phone", "lane", "purpose")
    if rec[3] and rec[3] ~= phone then return {"conflict"} end
    return {"duplicate", existing, rec[1] or "expired", rec[2] or "", rec[4] or lane, rec[5] or purpose}
  end
end

local monitored = {}
for i = 1, rule_count do
  local r = rule(i)
  local count = redis.call("ZCOUNT", r.key, "(" .. (now_ms - r.window), "+inf")
  if count >= r.limit then
    if r.monitor then
      table.insert(monitored, r.name)
    else
      -- the (count - limit + 1)-th oldest admission in the window must leave it first
      local oldest = redis.call("ZRANGEBYSCORE", r.key, "(" .. (now_ms - r.window), "+inf",
                                "WITHSCORES", "LIMIT", count - r.limit, 1)
      local retry_after = tonumber(oldest[2]) + r.window - now_ms
      return {"limited", r.name, tostring(retry_after)}
    end
  end
end

-- each log is trimmed to, and expires after, the longest window any rule keeps in it
local longest = {}
for i = 1, rule_count do
  local r = rule(i)
  if not longest[r.key] or r.window > longest[r.key] then longest[r.key] = r.window end
end
for key, window in pairs(longest) do
  redis.call("ZADD", key, now_ms, ticket)
  redis.call("ZREMRANGEBYSCORE", key, "-inf", now_ms - window)
  redis.call("PEXPIRE", key, window)
end

local now_s = seconds(now_ms)
redis.call("HSET", KEYS[1],
  "v", version, "state", "queued", "phone", phone, "masked", masked, "purpose", purpose, "lane", lane,
  "created_at", now_s, "updated_at", now_s, "deadline_at", seconds(now_ms + useful_life_s * 1000),
  "attempts", 0)
redis.call("EXPIRE", KEYS[1], record_ttl_s)
redis.call("ZADD", KEYS[3], now_ms + dispatch_grace_ms, ticket)
if has_idempotency_key then
  redis.call("SET", KEYS[2], ticket, "EX", record_ttl_s)
end
count_minute(minute_prefix, now_ms, "queued")
return {"ok", ticket, tostring(now_ms), table.concat(monitored, ",")}
