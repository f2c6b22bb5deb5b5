-- An operator lifts the lockout of a number's live code (`smsq admin unlock`): its answer counter
-- goes, so the code takes max_failures answers again; the action is counted.
--
-- KEYS[1] admin action counters, KEYS[2..] the number's live-code key names
-- Returns {ticket of the live code or "", answers that counted against it}.

local counter_prefix = ARGV[1]
for i = 2, #KEYS do
  local ticket = redis.call("GET", KEYS[i])
  if ticket then
    local counter = counter_prefix .. ticket
    local used = redis.call("GET", counter) or "0"
    redis.call("DEL", counter)
    redis.call("HINCRBY", KEYS[1], "unlock", 1)
    return {ticket, used}
  end
end
return {"", "0"}
