-- GCRA (generic cell rate algorithm) over several limiters at once: take one token from every
-- limiter, or from none. Used by worker/limiter.py; the model in tests/worker/limiter_model.py
-- must give the same answers.
--
-- KEYS[i],   i = 1..n   state of limiter i: its theoretical arrival time (TAT), integer µs
-- KEYS[n+i], i = 1..n   penalty of limiter i: a slowdown factor >= 1 ("2" halves the rate);
--                       absent = 1; its TTL is the penalty's duration
-- ARGV[1]               max_wait_us: reserve only when the wait is at most this
-- ARGV[2]               now_us: "" in production (the Redis server clock, TIME); the tests pass a
--                       simulated time here, and then no TTL is set (real time means nothing there)
-- ARGV[1 + 2i]          emission interval of limiter i in µs (window / limit), integer >= 1
-- ARGV[2 + 2i]          burst of limiter i: tokens that may be taken at once, integer >= 1
--
-- Returns {wait_us, reserved, binding}:
--   wait_us   µs until the token is valid: the max over the limiters (0 = now)
--   reserved  1: a token was taken from every limiter, valid at now + wait_us (the caller waits,
--             then goes; it never comes back); 0: wait_us > max_wait_us and nothing changed
--   binding   index (1-based) of the limiter that set wait_us, 0 when wait_us is 0
--
-- A token taken for use at time t moves TAT to max(TAT, t) + interval * penalty. It is valid when
-- t >= TAT - (burst - 1) * interval: the burst tolerance uses the base interval, so a penalty
-- lowers the rate and never raises the burst. A state key expires at its TAT (PEXPIRE), because a
-- TAT in the past behaves exactly like no key at all. The algorithm itself is gcra_take in
-- producers/lua/prelude.lua, which claim.lua shares.

local n = #KEYS / 2
local max_wait = tonumber(ARGV[1])
local simulated = ARGV[2] ~= ''
local now
if simulated then
  now = tonumber(ARGV[2])
else
  -- Redis < 5 must replicate effects, not the script, once it has read the clock.
  if redis.replicate_commands then redis.replicate_commands() end
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000000 + tonumber(time[2])
end

local state, penalty, intervals, bursts = {}, {}, {}, {}
for i = 1, n do
  state[i], penalty[i] = KEYS[i], KEYS[n + i]
  intervals[i], bursts[i] = tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i])
end
return gcra_take(state, penalty, intervals, bursts, max_wait, now, simulated)
