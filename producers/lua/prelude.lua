-- Prepended to every script in this folder by producers/store.py.

-- The time in ms: ARGV's value when a test passes simulated time, else the Redis server clock.
local function clock_ms(simulated)
  if simulated ~= "" then return tonumber(simulated) end
  local t = redis.call("TIME")
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

