-- Apply a batch of delivery receipts (Alibaba's DypnsSmsVerifyReport) to the sends they name.
--
-- KEYS[1] receipt counters by outcome, KEYS[2] delivery counters (fields "result|code|purpose"),
-- KEYS[3] send-to-delivery histogram (a field per bucket, "sum", "count"), KEYS[4..] one record
-- hash per receipt (the same one twice when two receipts name one send)
-- Returns each receipt's outcome, in order: "new", "changed", "duplicate" or "unmatched".
--
-- A receipt never touches a send's state and never creates a record. The recorded delivery only
-- moves up: none < undelivered < delivered (a handset that got the SMS got it, whatever another
-- report says); between two receipts of the same result, the earlier report wins, then the
-- smaller code. Any order of the same receipts, applied any number of times, leaves the same
-- delivery. Counters move only when a send's result changes, so a duplicate is never counted twice.

local now_ms = clock_ms(ARGV[1])
local malformed = tonumber(ARGV[2])    -- items the receiver skipped, counted here with the rest
local foreign = tonumber(ARGV[3])      -- reports without an OutId of ours
local max_series = tonumber(ARGV[4])   -- delivery counter fields kept; then a new code reads "other"
local bucket_list = ARGV[5]            -- histogram upper bounds in seconds, "1,2,5,..."
local RECEIPTS_AT = 5                  -- then 4 values per receipt: delivered (1/0), code,
                                       -- reported_at and delivery_s (seconds, or "")
local now_s = seconds(now_ms)

local RANK = {undelivered = 1, delivered = 2}

local bounds = {}
for bound in string.gmatch(bucket_list, "[^,]+") do
  table.insert(bounds, bound)
end

-- true when a receipt (rank, reported, code) beats the stored one
local function wins(rank, reported, code, old_rank, old_reported, old_code)
  if rank ~= old_rank then return rank > old_rank end
  if reported ~= old_reported then
    if reported == nil then return false end
    if old_reported == nil then return true end
    return reported < old_reported
  end
  return code < old_code
end

local function count_delivery(result, code, purpose)
  local field = result .. "|" .. code .. "|" .. purpose
  if redis.call("HEXISTS", KEYS[2], field) == 0 and redis.call("HLEN", KEYS[2]) >= max_series then
    -- past the cap a new code counts as "other" under its purpose, and past twice the cap under
    -- "other" too: purposes are any name without SMSQ_PURPOSES, so they must not add series forever
    field = result .. "|other|" .. purpose
    if redis.call("HEXISTS", KEYS[2], field) == 0 and redis.call("HLEN", KEYS[2]) >= 2 * max_series then
      field = result .. "|other|other"
    end
  end
  redis.call("HINCRBY", KEYS[2], field, 1)
end

local function observe_delivery_time(took)
  local bucket = "+Inf"
  for _, bound in ipairs(bounds) do
    if took <= tonumber(bound) then
      bucket = bound
      break
    end
  end
  redis.call("HINCRBY", KEYS[3], "le:" .. bucket, 1)
  redis.call("HINCRBYFLOAT", KEYS[3], "sum", took)
  redis.call("HINCRBY", KEYS[3], "count", 1)
end

-- The pumping breaker's conversion (enqueue.lua): a delivered send of its window, scored by when
-- it was sent.
local function count_for_breaker(key)
  local logs = redis.call("HMGET", key, "pump_sent", "pump_dl")
  if not logs[1] or not logs[2] then return end
  local ticket = string.match(key, "[^:]+$")
  local sent_ms = redis.call("ZSCORE", logs[1], ticket)
  if sent_ms then
    redis.call("ZADD", logs[2], sent_ms, ticket)
    redis.call("PEXPIRE", logs[2], math.max(redis.call("PTTL", logs[1]), 1))
  end
end

local function set_or_clear(key, field, value)
  if value then
    redis.call("HSET", key, field, string.format("%.3f", value))
  else
    redis.call("HDEL", key, field)
  end
end

local counts = {new = 0, changed = 0, duplicate = 0, unmatched = foreign}
local outcomes = {}
for i = 1, #KEYS - 3 do
  local base = RECEIPTS_AT + (i - 1) * 4
  local result = "undelivered"
  if ARGV[base + 1] == "1" then result = "delivered" end
  local code = ARGV[base + 2]
  local reported = tonumber(ARGV[base + 3])
  local took = tonumber(ARGV[base + 4])
  local key = KEYS[3 + i]
  local rec = redis.call("HMGET", key, "state", "purpose", "delivery", "reported_at", "carrier_code")
  local outcome = "unmatched"
  if rec[1] then
    redis.call("HINCRBY", key, "receipts", 1)
    local old_rank = RANK[rec[3]] or 0
    if wins(RANK[result], reported, code, old_rank, tonumber(rec[4] or ""), rec[5] or "") then
      outcome = "changed"
      if old_rank == 0 then outcome = "new" end
      redis.call("HSET", key, "delivery", result, "carrier_code", code, "receipt_at", now_s)
      set_or_clear(key, "reported_at", reported)
      set_or_clear(key, "delivery_s", took)
      if RANK[result] ~= old_rank then
        count_delivery(result, code, rec[2] or "unknown")
        if result == "delivered" and took then observe_delivery_time(took) end
        if result == "delivered" then count_for_breaker(key) end
      end
    else
      outcome = "duplicate"
    end
  end
  counts[outcome] = counts[outcome] + 1
  outcomes[i] = outcome
end

for outcome, n in pairs(counts) do
  if n > 0 then redis.call("HINCRBY", KEYS[1], outcome, n) end
end
if malformed > 0 then redis.call("HINCRBY", KEYS[1], "malformed", malformed) end
return outcomes
