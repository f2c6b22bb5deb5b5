-- Prepended to every smsq script by producers/scripts.py (Redis scripts cannot import each other).

-- The time in ms: the given value when a test passes simulated time, else the Redis server clock.
local function clock_ms(simulated)
  if simulated ~= nil and simulated ~= "" then return tonumber(simulated) end
  local t = redis.call("TIME")
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Seconds with ms precision, as records store times.
local function seconds(ms)
  return string.format("%.3f", ms / 1000)
end

-- The states after which nothing changes the outcome of a send (producers.records.SendState.final).
local FINAL = {sent = true, verified = true, failed = true, expired = true}
local function is_final(state)
  return state ~= nil and state ~= false and FINAL[state] == true
end

-- Sends per minute by outcome, for `smsq status`: one hash per minute, kept two hours.
local MINUTE_STATS_TTL_S = 7200
local function count_minute(prefix, now_ms, outcome)
  local key = prefix .. math.floor(now_ms / 60000)
  redis.call("HINCRBY", key, outcome, 1)
  redis.call("EXPIRE", key, MINUTE_STATS_TTL_S)
end

-- The record field holding the sealed phone number (producers.constants.SEALED_PHONE_FIELD): a
-- record drops it as it becomes final, so no finished send keeps even the encrypted number.
local SEALED_PHONE = "sealed_phone"

-- A task's Celery message as producers/outbound.py passes it (Outbound.script_args), from ARGV[at]:
-- the queue ("" for none: the caller publishes it itself), the message, the count of its events,
-- then that many (channel, payload) pairs. Returns it, and the index of the next argument.
local function read_outbound(at)
  local events = tonumber(ARGV[at + 2])
  return {queue = ARGV[at], message = ARGV[at + 1], events = events, at = at}, at + 3 + 2 * events
end

-- Queue the message read by read_outbound and publish its events (nothing when there is none).
local function queue_outbound(out)
  if out.queue == "" then return end
  redis.call("LPUSH", out.queue, out.message)
  for i = 1, out.events do
    redis.call("PUBLISH", ARGV[out.at + 1 + 2 * i], ARGV[out.at + 2 + 2 * i])
  end
end

-- Sliding-window limits (producers.guard): one log per rule subject, a ZSET of event ids scored by
-- time in ms. A rule reads several logs (its subject named under each listed hash key, during a key
-- rotation) and writes only the first.
-- Rules are read from ARGV[at] on: the rule count, then 5 values per rule (limit, window ms, name,
-- monitor "1"/"0", log count); their logs from KEYS[key_at] on, in rule order.
local function read_rules(at, key_at)
  local rules = {}
  local a, k = at + 1, key_at
  for i = 1, tonumber(ARGV[at]) do
    local logs = {}
    for j = 1, tonumber(ARGV[a + 4]) do logs[j] = KEYS[k + j - 1] end
    rules[i] = {limit = tonumber(ARGV[a]), window = tonumber(ARGV[a + 1]), name = ARGV[a + 2],
                monitor = ARGV[a + 3] == "1", logs = logs}
    a, k = a + 5, k + #logs
  end
  return rules
end

-- The first enforced rule already full at now_ms, as {name, ms until it admits one more}, or nil;
-- and the names of the full rules in monitor mode (they only report).
local function full_rule(rules, now_ms)
  local monitored = {}
  for _, r in ipairs(rules) do
    local since = "(" .. (now_ms - r.window)
    local count = 0
    for _, log in ipairs(r.logs) do count = count + redis.call("ZCOUNT", log, since, "+inf") end
    if count >= r.limit then
      if r.monitor then
        table.insert(monitored, r.name)
      else
        -- the (count - limit + 1)-th oldest event in the window must leave it first
        local oldest
        if #r.logs == 1 then
          oldest = tonumber(redis.call("ZRANGEBYSCORE", r.logs[1], since, "+inf",
                                       "WITHSCORES", "LIMIT", count - r.limit, 1)[2])
        else
          local scores = {}
          for _, log in ipairs(r.logs) do
            local found = redis.call("ZRANGEBYSCORE", log, since, "+inf", "WITHSCORES")
            for i = 2, #found, 2 do table.insert(scores, tonumber(found[i])) end
          end
          table.sort(scores)
          oldest = scores[count - r.limit + 1]
        end
        return {r.name, tostring(oldest + r.window - now_ms)}, monitored
      end
    end
  end
  return nil, monitored
end

-- Count event `id` at now_ms in each rule's first log; a log is trimmed to, and expires after, the
-- longest window any rule keeps in it.
local function record_event(rules, now_ms, id)
  local longest = {}
  for _, r in ipairs(rules) do
    local log = r.logs[1]
    if not longest[log] or r.window > longest[log] then longest[log] = r.window end
  end
  for log, window in pairs(longest) do
    redis.call("ZADD", log, now_ms, id)
    redis.call("ZREMRANGEBYSCORE", log, "-inf", now_ms - window)
    redis.call("PEXPIRE", log, window)
  end
end

-- Sends and verifications by purpose (producers.store.conversion_counts): fields "event|purpose",
-- at most max_purposes purposes apart, the rest counted as "other".
local function count_purpose(key, event, purpose, max_purposes)
  local field = event .. "|" .. purpose
  if redis.call("HEXISTS", key, field) == 0
     and redis.call("HEXISTS", key, "sent|" .. purpose) == 0
     and redis.call("HLEN", key) >= 2 * max_purposes then
    field = event .. "|other"
  end
  redis.call("HINCRBY", key, field, 1)
end

-- GCRA (generic cell rate algorithm) over several limiters at once: take one token from every
-- limiter, or from none (worker/limiter.py; worker/lua/gcra.lua documents the arguments). Here so
-- that claim.lua can take a run's token in the claim's own round trip.
-- state[i], penalty[i]: limiter i's TAT key (integer µs) and its slowdown key (factor, TTL);
-- intervals[i], bursts[i]: its emission interval in µs and its burst; now: µs; simulated: true when
-- now is a test's time (then no TTL is set). Returns {wait_us, reserved (1/0), binding index}.
local function gcra_take(state, penalty, intervals, bursts, max_wait, now, simulated)
  local wait, binding = 0, 0
  local tats, steps = {}, {}
  for i = 1, #state do
    local interval, burst = intervals[i], bursts[i]
    local factor = tonumber(redis.call("GET", penalty[i]) or "1") or 1
    local step = interval
    if factor > 1 then step = math.ceil(interval * factor) end
    local tat = tonumber(redis.call("GET", state[i]) or "0") or 0
    if tat < now then tat = now end
    local w = tat - (burst - 1) * interval - now
    if w > wait then wait, binding = w, i end
    tats[i], steps[i] = tat, step
  end
  if wait > max_wait then
    return {wait, 0, binding}
  end
  local at = now + wait
  for i = 1, #state do
    local tat = math.max(tats[i], at) + steps[i]
    local value = string.format("%d", tat)
    if simulated then
      redis.call("SET", state[i], value)
    else
      redis.call("SET", state[i], value, "PX", math.ceil((tat - now) / 1000))
    end
  end
  return {wait, 1, binding}
end
