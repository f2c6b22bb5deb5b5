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
