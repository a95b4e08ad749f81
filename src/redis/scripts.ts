import { LuaScript } from './lua-script.ts';

// Every script touches the keys of one conversation (or one quota key) only: one hash tag,
// so each runs in one Redis Cluster slot. PUBLISH takes a channel, not a key, and is allowed in scripts.

/**
 * Creates a conversation unless it exists. KEYS: meta, messages, turns.
 * ARGV: ttl, id, owner, model, title, createdAt, updatedAt. Returns 1, or 0 if it exists.
 */
export const CREATE_CONVERSATION = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
-- What is left of an earlier conversation with this id must not leak into the new one.
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('HSET', KEYS[1], 'id', ARGV[2], 'owner', ARGV[3], 'model', ARGV[4], 'title', ARGV[5],
  'createdAt', ARGV[6], 'updatedAt', ARGV[7], 'agent', ARGV[8])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
`);

// Activity at ARGV[3] (an ISO-8601 time): updatedAt never goes back, and the time to live of
// the conversation's keys starts again. Shared by COMMIT_TURN and TOUCH_CONVERSATION.
const ACTIVE = `
local function active()
  if (redis.call('HGET', KEYS[1], 'updatedAt') or '') < ARGV[3] then
    redis.call('HSET', KEYS[1], 'updatedAt', ARGV[3])
  end
  for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[1]) end
  return { 1, redis.call('HGET', KEYS[1], 'owner'), redis.call('HGET', KEYS[1], 'updatedAt') }
end
`;

/**
 * Appends a turn's messages exactly once per turn id. KEYS: meta, messages, turns.
 * ARGV: ttl, turnId, updatedAt, entry... Returns {1, owner, updatedAt} (the owner's list is
 * updated after it, in its own command), {0} if already committed, {-1} if no conversation.
 */
export const COMMIT_TURN = new LuaScript(`${ACTIVE}
if redis.call('EXISTS', KEYS[1]) == 0 then return { -1 } end
if redis.call('SADD', KEYS[3], ARGV[2]) == 0 then return { 0 } end
-- In slices: unpack() of thousands of values would overflow Lua's C stack.
for i = 4, #ARGV, 1000 do
  redis.call('RPUSH', KEYS[2], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
return active()
`);

/**
 * Activity in a conversation (a turn started). KEYS: meta, messages, turns. ARGV: ttl, '',
 * updatedAt. Returns {1, owner, updatedAt}, or {-1} if there is no conversation.
 */
export const TOUCH_CONVERSATION = new LuaScript(`${ACTIVE}
if redis.call('EXISTS', KEYS[1]) == 0 then return { -1 } end
return active()
`);

// Shared by the two frame scripts. KEYS: running, seq, frames, frame bytes (then ended for
// PUBLISH_FRAME). ARGV: turnId, head, tail, maxlen, leaseMs, ttl, channel, max bytes. The
// frame's JSON is head..seq..tail: the seq is only known here, and the JSON is built once.
const APPEND = `
-- Keeps the newest frames of the log within both caps, ARGV[4] entries and ARGV[8] bytes
-- of JSON. The log's seqs are contiguous, so the entries dropped are those below one id.
local function trim(added)
  local bytes = tonumber(redis.call('GET', KEYS[4]) or '')
  if bytes then
    bytes = bytes + added
  else
    -- First frame, or a total lost while the log was not: count the log once.
    bytes = 0
    for _, entry in ipairs(redis.call('XRANGE', KEYS[3], '-', '+')) do
      bytes = bytes + #entry[2][2]
    end
  end
  local count = redis.call('XLEN', KEYS[3])
  local maxlen, maxbytes = tonumber(ARGV[4]), tonumber(ARGV[8])
  local from, last = '-', nil
  while count > maxlen or bytes > maxbytes do
    local oldest = redis.call('XRANGE', KEYS[3], from, '+', 'COUNT', 1)[1]
    if not oldest then break end
    bytes = bytes - #oldest[2][2]
    count = count - 1
    last = string.match(oldest[1], '^(%d+)')
    from = '(' .. oldest[1]
  end
  if last then redis.call('XTRIM', KEYS[3], 'MINID', last .. '-1') end
  redis.call('SET', KEYS[4], bytes, 'EX', ARGV[6])
end

local function append()
  local seq = redis.call('INCR', KEYS[2])
  local frame = ARGV[2] .. seq .. ARGV[3]
  local added = redis.pcall('XADD', KEYS[3], seq .. '-0', 'f', frame)
  if type(added) == 'table' and added.err then
    -- The counter was lost (evicted) while the log was not: seq never goes backwards.
    local info = redis.call('XINFO', 'STREAM', KEYS[3])
    for i = 1, #info, 2 do
      if info[i] == 'last-generated-id' then seq = tonumber(string.match(info[i + 1], '^(%d+)')) + 1 end
    end
    redis.call('SET', KEYS[2], seq)
    frame = ARGV[2] .. seq .. ARGV[3]
    redis.call('XADD', KEYS[3], seq .. '-0', 'f', frame)
  end
  trim(#frame)
  redis.call('EXPIRE', KEYS[2], ARGV[6])
  redis.call('EXPIRE', KEYS[3], ARGV[6])
  redis.call('PUBLISH', ARGV[7], frame)
  return seq
end
`;

/**
 * `turn-start`: claims the conversation (running key with a lease) and appends the frame,
 * or does nothing while another turn runs. Returns the seq, or nil when busy.
 */
export const START_TURN = new LuaScript(`${APPEND}
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[5])
return append()
`);

/**
 * A frame of a turn. Accepted while the turn holds the conversation, or when nobody does
 * and the turn has not ended (its lease lapsed); refused (nil) otherwise, so that nothing
 * of a turn follows its turn-end, even from a worker that was presumed dead. KEYS[5]: ended.
 * ARGV[9] = '1' for turn-end: it frees the conversation and marks the turn ended.
 */
export const PUBLISH_FRAME = new LuaScript(`${APPEND}
local running = redis.call('GET', KEYS[1])
if running then
  if running ~= ARGV[1] then return false end
elseif redis.call('SISMEMBER', KEYS[5], ARGV[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 0 then
  return false
end
local seq = append()
if ARGV[9] == '1' then
  if running then redis.call('DEL', KEYS[1]) end
  redis.call('SADD', KEYS[5], ARGV[1])
  redis.call('EXPIRE', KEYS[5], ARGV[6])
elseif running then
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
return seq
`);

/**
 * A consistent snapshot for replay. KEYS: running, seq, frames. ARGV: afterSeq, or '' for
 * the state alone. Returns [lastSeq, runningTurnId or '', first retained seq or 0, json...].
 */
export const REPLAY = new LuaScript(`
local out = { tonumber(redis.call('GET', KEYS[2]) or '0'), redis.call('GET', KEYS[1]) or '' }
local first = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', 1)[1]
out[3] = first and tonumber(string.match(first[1], '^(%d+)')) or 0
if ARGV[1] ~= '' then
  for _, entry in ipairs(redis.call('XRANGE', KEYS[3], (tonumber(ARGV[1]) + 1) .. '-0', '+')) do
    out[#out + 1] = entry[2][2]
  end
end
return out
`);

/**
 * A worker takes a job's turn before running it. KEYS: running, seq, ended, cancelled.
 * ARGV: turnId, leaseMs. Returns 1 (run it), 2 (run it, but it was cancelled while
 * queued) or 0 (not this worker's to run: ended, another turn runs, or no conversation).
 */
export const CLAIM_TURN = new LuaScript(`
local running = redis.call('GET', KEYS[1])
if running ~= ARGV[1] then
  if running or redis.call('EXISTS', KEYS[2]) == 0 or redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then
    return 0
  end
  -- The lease lapsed while the job waited for a worker; nothing else started: take it back.
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if redis.call('SISMEMBER', KEYS[4], ARGV[1]) == 1 then return 2 end
return 1
`);

/**
 * The heartbeat of a running turn: renews its lease and says whether it was cancelled (a
 * cancel published while the worker's control subscriber was away is found here).
 * KEYS: running, cancelled. ARGV: turnId, leaseMs. Returns 'cancelled', 1 (renewed) or 0
 * (the turn no longer holds the conversation).
 */
export const RENEW_TURN = new LuaScript(`
local renewed = 0
if redis.call('GET', KEYS[1]) == ARGV[1] then renewed = redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 'cancelled' end
return renewed
`);

/**
 * Cancels a turn wherever it is: marks it (for a worker that has not taken it yet) and
 * tells the workers. KEYS: cancelled. ARGV: turnId, ttl, control channel, message.
 */
export const CANCEL_TURN = new LuaScript(`
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return redis.call('PUBLISH', ARGV[3], ARGV[4])
`);

// Worker liveness uses the Redis server's clock, so hosts whose clocks differ agree.
const NOW_MS = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
`;

/**
 * A worker's heartbeat. KEYS: workers. ARGV: consumer, aliveMs. Records the worker and
 * forgets workers silent for ten times `aliveMs`.
 */
export const WORKER_BEAT = new LuaScript(`${NOW_MS}
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 10 * tonumber(ARGV[2]))
return now
`);

/** How many workers sent a heartbeat within `aliveMs`. KEYS: workers. ARGV: aliveMs. */
export const WORKERS_ALIVE = new LuaScript(`${NOW_MS}
return redis.call('ZCOUNT', KEYS[1], '(' .. (now - tonumber(ARGV[1])), '+inf')
`);

/**
 * Answers an approval request, first answer only. KEYS: approvals, answer list, running.
 * ARGV: toolCallId, answer JSON, ttl, '1' when the request's turn must still be the running
 * one (a person's answer; the turn's own timeout or cancel need not). 1 if this answered it.
 * A request whose turn is not running is left as it is: `pending` shows only the running
 * turn's, and its own turn, should it be alive after all, can still end it.
 */
export const ANSWER_APPROVAL = new LuaScript(`
local request = redis.call('HGET', KEYS[1], ARGV[1])
if not request then return 0 end
if ARGV[4] == '1' and redis.call('GET', KEYS[3]) ~= cjson.decode(request)['turnId'] then
  return 0
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
`);

// The call quota (RedisCallQuota): a semaphore of sorted sets, timed by the server's clock.
// KEYS: holders, waiters, alive, ticket (then lowered for ADMIT_CALLS). Slots held past their
// lease and calls no longer seen waiting are dropped first: their processes are gone.
const QUOTA = `${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)) do
  redis.call('ZREM', KEYS[2], id)
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
-- Tickets start again once nobody waits: an empty queue has no order to keep.
local function forget_tickets()
  if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('DEL', KEYS[4]) end
end
`;

/**
 * Asks for slots for calls of one process, in its order. ARGV: max, leaseMs, waiterMs, id...
 * A call new to the queue draws a ticket; a call is admitted when its rank among the waiters
 * is below the free slots (the bound, lowered or not, minus the holders), so calls are
 * admitted in ticket order across processes. A call still waiting counts as alive for
 * waiterMs more. Returns one 1 (admitted, holds a slot for leaseMs) or 0 per id. An id
 * already holding a slot (admitted by a call whose reply was lost) is admitted again.
 */
export const ADMIT_CALLS = new LuaScript(`${QUOTA}
local bound = tonumber(ARGV[1])
local lowered = tonumber(redis.call('GET', KEYS[5]) or '')
if lowered and lowered < bound then bound = lowered end
local free = bound - redis.call('ZCARD', KEYS[1])
local lease, alive = now + tonumber(ARGV[2]), now + tonumber(ARGV[3])
local admitted = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  local result = 0
  if redis.call('ZSCORE', KEYS[1], id) then
    redis.call('ZADD', KEYS[1], lease, id)
    result = 1
  else
    if not redis.call('ZSCORE', KEYS[2], id) then
      redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[4]), id)
    end
    if free > 0 and redis.call('ZRANK', KEYS[2], id) < free then
      redis.call('ZREM', KEYS[2], id)
      redis.call('ZREM', KEYS[3], id)
      redis.call('ZADD', KEYS[1], lease, id)
      free = free - 1
      result = 1
    else
      redis.call('ZADD', KEYS[3], alive, id)
    end
  end
  admitted[#admitted + 1] = result
end
forget_tickets()
-- Every member expires before its key does: the keys lapse once nobody holds or waits.
redis.call('PEXPIRE', KEYS[1], ARGV[2])
for i = 2, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[3]) end
return admitted
`);

/**
 * Renews the leases of slots one process holds. KEYS: holders. ARGV: leaseMs, id...
 * Returns one 1 (renewed) or 0 (its lease lapsed and was dropped: the slot went back) per
 * id. A lapsed lease not dropped yet is renewed: nobody can have counted its slot as free.
 */
export const RENEW_CALLS = new LuaScript(`${NOW_MS}
local renewed = {}
for i = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[i])
    renewed[#renewed + 1] = 1
  else
    renewed[#renewed + 1] = 0
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return renewed
`);

/**
 * A call gives back its slot, or leaves the queue. ARGV: id, channel, quota key. Announces
 * it on the channel so that waiting processes ask again. Returns 1, or 0 if it held nothing.
 */
export const RELEASE_CALL = new LuaScript(`${QUOTA}
local gone = redis.call('ZREM', KEYS[1], ARGV[1]) + redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
forget_tickets()
if gone == 0 then return 0 end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
`);

/**
 * A call was throttled: halves the bound in force (at least 1), unless it was halved less
 * than halveEveryMs ago (the same burst), and holds it lowered for lowerForMs from now.
 * KEYS: lowered, halved. ARGV: max, lowerForMs, halveEveryMs. Returns the bound in force.
 */
export const THROTTLE_CALLS = new LuaScript(`
local max = tonumber(ARGV[1])
local bound = math.min(tonumber(redis.call('GET', KEYS[1]) or '') or max, max)
if tonumber(ARGV[3]) <= 0 or redis.call('SET', KEYS[2], '1', 'PX', ARGV[3], 'NX') then
  bound = math.max(1, math.floor(bound / 2))
end
redis.call('SET', KEYS[1], bound, 'PX', ARGV[2])
return bound
`);
