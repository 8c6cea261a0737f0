/**
 * Every Lua script of the Redis engine: queues, results, actor mailboxes and
 * their leases. Each touches only keys of one queue or one actor, all
 * carrying one hash tag, so each runs in one Redis Cluster slot. Scripts read
 * the clock with TIME so due times do not depend on client clocks.
 */
import { createHash } from 'node:crypto'
import { masters, type RedisClient } from './connect.js'

/**
 * A Lua script run by EVALSHA, falling back to EVAL when the server forgot it
 * (after a restart, or a replica promoted on a Cluster). On a Cluster both go
 * to the master of the keys' slot, so the fallback caches it where it ran.
 */
export class Script {
  readonly sha: string
  constructor(readonly name: string, readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex')
  }

  /** Run with string/Buffer keys and args; replies with Buffers when `buffers` is set. */
  async run(r: RedisClient, keys: string[], args: (string | Buffer | number)[], buffers = false): Promise<unknown> {
    const call = buffers ? r.callBuffer.bind(r) : r.call.bind(r)
    try {
      return await call('EVALSHA', this.sha, keys.length, ...keys, ...args)
    } catch (err) {
      if (!String((err as Error).message).includes('NOSCRIPT')) throw err
      return call('EVAL', this.lua, keys.length, ...keys, ...args)
    }
  }

}

/** Make sure the server knows these scripts (pipelined EVALSHA gets NOSCRIPT after a restart): every master of a Cluster. */
export async function load(r: RedisClient, scripts: Script[]): Promise<void> {
  await Promise.all(masters(r).flatMap((node) => scripts.map((s) => node.call('SCRIPT', 'LOAD', s.lua))))
}

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`

// Acknowledged entries are trimmed, not XDELeted one by one (XDEL costs Redis
// about 1.6 µs per id; XTRIM MINID drops whole nodes). Everything below the
// oldest pending id is done (delivery is in id order); with nothing pending,
// everything up to the highest id ever acknowledged (kept in the `acked` key)
// is. The `n` key counts unfinished items (put or delayed, not yet acknowledged
// or dead-lettered), so XLEN is not needed for join, qsize or maxsize.
const TRIM = `
local function idlt(a, b)
  local am, as = string.match(a, '(%d+)-(%d+)')
  local bm, bs = string.match(b, '(%d+)-(%d+)')
  am, bm = tonumber(am), tonumber(bm)
  if am ~= bm then return am < bm end
  return tonumber(as) < tonumber(bs)
end
local function trim(stream, group, ackedKey, top)
  local stored = redis.call('GET', ackedKey)
  if top and (not stored or idlt(stored, top)) then redis.call('SET', ackedKey, top) else top = stored end
  local p = redis.call('XPENDING', stream, group)
  local minid
  if tonumber(p[1]) > 0 then minid = p[2]
  elseif top then
    local ms, seq = string.match(top, '(%d+)-(%d+)')
    minid = ms .. '-' .. (tonumber(seq) + 1)
  end
  if minid then redis.call('XTRIM', stream, 'MINID', minid) end
end`

/** KEYS stream, count; ARGV maxsize, field, value, ... -> entry id, or false when full. */
export const put = new Script('put', `
local max = tonumber(ARGV[1])
if max > 0 and tonumber(redis.call('GET', KEYS[2]) or '0') >= max then return false end
redis.call('INCR', KEYS[2])
return redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))`)

/**
 * KEYS stream, count; ARGV width, field, value, ... -> entries added. Adds many
 * entries of `width` fields+values each in one call: one command instead of a
 * thousand saves the client most of its per-command work.
 */
export const putMany = new Script('putMany', `
local w = tonumber(ARGV[1])
for k = 2, #ARGV, w do redis.call('XADD', KEYS[1], '*', unpack(ARGV, k, k + w - 1)) end
local n = (#ARGV - 1) / w
redis.call('INCRBY', KEYS[2], n)
return n`)

/** KEYS delayed, delayedData, count; ARGV delayMs, taskId, field, value, ... -> due time. */
export const delay = new Script('delay', `${NOW}
local due = now + tonumber(ARGV[1])
redis.call('HSET', KEYS[2], ARGV[2], cmsgpack.pack({unpack(ARGV, 3)}))
redis.call('ZADD', KEYS[1], due, ARGV[2])
redis.call('INCR', KEYS[3])
return due`)

/**
 * KEYS stream, delayed, delayedData; ARGV limit -> ms until the next delayed
 * task is due (-1: none). Moves due tasks to the stream.
 */
export const promote = new Script('promote', `${NOW}
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, id in ipairs(ids) do
  local packed = redis.call('HGET', KEYS[3], id)
  if packed then redis.call('XADD', KEYS[1], '*', unpack(cmsgpack.unpack(packed))) end
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
end
local nxt = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if nxt[2] then return math.max(0, tonumber(nxt[2]) - now) end
return -1`)

/**
 * KEYS stream, count, acked; ARGV group, id, ... -> entries acknowledged now.
 * Ids acknowledged before (by a consumer that ran the item too) count once.
 * With only KEYS stream (inboxes: nothing counts their entries), acknowledged entries are deleted.
 */
export const ack = new Script('ack', `${TRIM}
local n = redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, 2))
if #KEYS == 1 then redis.call('XDEL', KEYS[1], unpack(ARGV, 2)) return n end
if n > 0 then redis.call('DECRBY', KEYS[2], n) end
local top = ARGV[2]
for k = 3, #ARGV do if idlt(top, ARGV[k]) then top = ARGV[k] end end
trim(KEYS[1], ARGV[1], KEYS[3], top)
return n`)

/**
 * KEYS stream, dead, delayed, delayedData, count, acked; ARGV group, id, mode, delayMs, taskId, deadMaxLen, field, value, ...
 * Settle one delivery that did not succeed: `retry` re-adds it (after delayMs
 * through the delayed set), `dead` moves it to the dead-letter stream (capped
 * near deadMaxLen entries, oldest dropped first). A delivery someone else
 * already acknowledged is left alone (returns 0).
 */
export const settle = new Script('settle', `${TRIM}
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if acked == 0 then return 0 end
if ARGV[3] == 'dead' then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', unpack(ARGV, 7))
  redis.call('DECR', KEYS[5])
elseif tonumber(ARGV[4]) > 0 then
  ${NOW.replace(/\n/g, '\n  ')}
  redis.call('HSET', KEYS[4], ARGV[5], cmsgpack.pack({unpack(ARGV, 7)}))
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[4]), ARGV[5])
else
  redis.call('XADD', KEYS[1], '*', unpack(ARGV, 7))
end
trim(KEYS[1], ARGV[1], KEYS[6], ARGV[2])
return 1`)

/**
 * KEYS stream, dead, count, acked; ARGV group, consumer, minIdleMs, cursor, count, maxRetries, deadMaxLen
 * -> { nextCursor, claimed {id, fields, deliveries}..., dead {fields}... }.
 * Takes over entries whose lease expired (their consumer stopped heartbeating:
 * it died or hangs). An entry that already ran more than maxRetries+1 times
 * in all (field `a` counts runs of earlier entries of the task, each delivery
 * of this one was a run) goes to the dead-letter stream, its `a` the runs made.
 */
export const reclaim = new Script('reclaim', `${TRIM}
local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], 'COUNT', ARGV[5])
local claimed, dead = {}, {}
local maxRetries = tonumber(ARGV[6])
local top
for _, e in ipairs(r[2]) do
  local id, f = e[1], e[2]
  if f then
    local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
    local deliveries = p[1] and tonumber(p[1][4]) or 1
    local prior = 0
    for k = 3, #f, 2 do if f[k] == 'a' then prior = tonumber(f[k + 1]) end end
    -- This claim counts as a delivery already: the runs made are the deliveries before it.
    local runs = prior + deliveries - 1
    if runs > maxRetries then
      local out = {f[1], f[2]}
      for k = 3, #f, 2 do if f[k] ~= 'a' then out[#out + 1] = f[k]; out[#out + 1] = f[k + 1] end end
      out[#out + 1] = 'a'
      out[#out + 1] = tostring(runs)
      out[#out + 1] = 'reason'
      local lease = '(lease of ' .. ARGV[3] .. ' ms expired; maxRetries ' .. maxRetries .. ')'
      if prior == 0 then out[#out + 1] = 'its worker died or hung during each of its ' .. runs .. ' runs ' .. lease
      else out[#out + 1] = 'ran ' .. runs .. ' times; its worker died or hung during the last ' .. (deliveries - 1) .. ' ' .. lease end
      redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[7], '*', unpack(out))
      redis.call('XACK', KEYS[1], ARGV[1], id)
      redis.call('DECR', KEYS[3])
      if not top or idlt(top, id) then top = id end
      dead[#dead + 1] = out
    else
      claimed[#claimed + 1] = {id, f, deliveries}
    end
  end
end
if top then trim(KEYS[1], ARGV[1], KEYS[4], top) end
return {r[1], claimed, dead}`)

/**
 * KEYS results stream, done zset, count; ARGV isError ('0'|'1'), mustExist ('0'|'1'), retentionMs, taskId, payload, ... -> results added.
 * A result whose task id was recorded within the retention window is dropped:
 * a task that ran twice (its worker died after finishing, before
 * acknowledging) has one result. The done zset holds task id -> when
 * recorded; ids older than retentionMs are trimmed (0: kept forever) and the
 * key expires retentionMs after the last record. One ZMSCORE and one ZADD per
 * call. With mustExist, nothing is recorded unless the results stream exists:
 * a pool deletes its results stream when it ends, and late results must not
 * bring it back.
 */
export const record = new Script('record', `
if ARGV[2] == '1' and redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
${NOW}
if redis.call('TYPE', KEYS[2]).ok == 'hash' then
  -- The done set of troupe <= 0.1 was a hash of ids: carry them over, recorded now.
  local old = redis.call('HKEYS', KEYS[2])
  redis.call('DEL', KEYS[2])
  for k = 1, #old, 500 do
    local args = {}
    for j = k, math.min(#old, k + 499) do args[#args + 1] = now; args[#args + 1] = old[j] end
    redis.call('ZADD', KEYS[2], unpack(args))
  end
end
local retention = tonumber(ARGV[3])
if retention > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - retention) end
local ids = {}
for k = 4, #ARGV, 2 do ids[#ids + 1] = ARGV[k] end
local seen = redis.call('ZMSCORE', KEYS[2], unpack(ids))
local marks, got, n = {}, {}, 0
for j = 1, #ids do
  local id = ids[j]
  if not seen[j] and not got[id] then
    got[id] = true
    if ARGV[1] == '1' then redis.call('XADD', KEYS[1], '*', id, ARGV[2 * j + 3], 'e', '1')
    else redis.call('XADD', KEYS[1], '*', id, ARGV[2 * j + 3]) end
    marks[#marks + 1] = now
    marks[#marks + 1] = id
    n = n + 1
  end
end
if n > 0 then
  redis.call('ZADD', KEYS[2], unpack(marks))
  redis.call('INCRBY', KEYS[3], n)
end
if retention > 0 then redis.call('PEXPIRE', KEYS[2], retention) end
return n`)

/**
 * KEYS stream; ARGV group, minIdleMs, self -> consumers deleted. Every worker
 * process adds a consumer name to the group; ones that hold nothing are
 * deleted: `self` (when closing) or, with self empty, any idle that long (a
 * dead process). A consumer holding entries is never deleted (that would drop
 * its entries from the pending list), and a live one is recreated by its next read.
 */
export const prune = new Script('prune', `
local ok, list = pcall(redis.call, 'XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if not ok then return 0 end
local n = 0
for _, c in ipairs(list) do
  local name, pending, idle
  for k = 1, #c, 2 do
    if c[k] == 'name' then name = c[k + 1]
    elseif c[k] == 'pending' then pending = tonumber(c[k + 1])
    elseif c[k] == 'idle' then idle = tonumber(c[k + 1]) end
  end
  local pick
  if ARGV[3] ~= '' then pick = name == ARGV[3] else pick = idle >= tonumber(ARGV[2]) end
  if pick and pending == 0 then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name)
    n = n + 1
  end
end
return n`)

/** KEYS stream, count, delayed; ARGV group -> { unfinished, pending, delayed }. */
export const sizes = new Script('sizes', `
local pending = 0
local ok, p = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1])
if ok and p then pending = tonumber(p[1]) end
return {tonumber(redis.call('GET', KEYS[2]) or '0'), pending, redis.call('ZCARD', KEYS[3])}`)

// ---- operator actions (the dashboard's; see admin.ts) ----

/**
 * KEYS stream, count; ARGV group, limit -> entries removed. Deletes waiting
 * entries (not yet delivered to the group); delivered ones stay with their consumers.
 */
export const purge = new Script('purge', `
local last = '0-0'
local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])
if ok then
  for _, g in ipairs(groups) do
    local name, id
    for k = 1, #g, 2 do
      if g[k] == 'name' then name = g[k + 1] elseif g[k] == 'last-delivered-id' then id = g[k + 1] end
    end
    if name == ARGV[1] then last = id end
  end
end
local entries = redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', tonumber(ARGV[2]))
if #entries == 0 then return 0 end
local ids = {}
for j, e in ipairs(entries) do ids[j] = e[1] end
redis.call('XDEL', KEYS[1], unpack(ids))
redis.call('DECRBY', KEYS[2], #ids)
return #ids`)

/**
 * KEYS stream, dead, count; ARGV limit, id... -> entries moved. Puts dead
 * letters (the given ids, or the oldest `limit`) back on the queue for a fresh
 * set of runs: attempts reset, reason and error dropped, and a new task id
 * (`<id>~r<ms>`) so its result is recorded even where a failure was recorded for the old one.
 */
export const retryDead = new Script('retryDead', `${NOW}
local rows = {}
if #ARGV > 1 then
  for k = 2, #ARGV do
    local r = redis.call('XRANGE', KEYS[2], ARGV[k], ARGV[k])
    if r[1] then rows[#rows + 1] = r[1] end
  end
else
  rows = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', tonumber(ARGV[1]))
end
for _, row in ipairs(rows) do
  local f = row[2]
  local base = string.gsub(f[1], '~r%d+$', '')
  local out = {base .. '~r' .. now, f[2]}
  for k = 3, #f, 2 do
    if f[k] ~= 'a' and f[k] ~= 'reason' and f[k] ~= 'error' then out[#out + 1] = f[k]; out[#out + 1] = f[k + 1] end
  end
  redis.call('XADD', KEYS[1], '*', unpack(out))
  redis.call('XDEL', KEYS[2], row[1])
  redis.call('INCR', KEYS[3])
end
return #rows`)

/** KEYS dead; ARGV limit, id... -> dead letters deleted (the given ids, or the oldest `limit`). */
export const dropDead = new Script('dropDead', `
local ids = {}
if #ARGV > 1 then for k = 2, #ARGV do ids[#ids + 1] = ARGV[k] end
else for _, r in ipairs(redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', tonumber(ARGV[1]))) do ids[#ids + 1] = r[1] end end
if #ids == 0 then return 0 end
return redis.call('XDEL', KEYS[1], unpack(ids))`)

/**
 * KEYS stream, delayed, delayedData, count; ARGV mode ('promote'|'drop'), limit, taskId...
 * -> delayed items moved to the queue now (promote) or deleted (drop): the given ids, or the first `limit` due.
 */
export const delayedAction = new Script('delayedAction', `
local ids = {}
if #ARGV > 2 then for k = 3, #ARGV do ids[#ids + 1] = ARGV[k] end
else ids = redis.call('ZRANGE', KEYS[2], 0, tonumber(ARGV[2]) - 1) end
local n = 0
for _, id in ipairs(ids) do
  if redis.call('ZREM', KEYS[2], id) == 1 then
    local packed = redis.call('HGET', KEYS[3], id)
    redis.call('HDEL', KEYS[3], id)
    if ARGV[1] == 'promote' and packed then redis.call('XADD', KEYS[1], '*', unpack(cmsgpack.unpack(packed)))
    else redis.call('DECR', KEYS[4]) end
    n = n + 1
  end
end
return n`)

// ---- actor mailboxes: one fenced reader at a time ----
// An actor's lease key holds `<node> <token>`; the token comes from the actor's
// fence counter and is new for every lease, so a node that lost its lease
// (it stalled past leaseMs) can neither read nor acknowledge: every read and
// ack below checks the holder first, in the same script.

/**
 * KEYS lease, fence, def; ARGV node, leaseMs -> { token, definition }:
 * token 0 when another node holds the lease, -1 when the actor is gone.
 */
export const leaseTake = new Script('leaseTake', `
local def = redis.call('GET', KEYS[3])
if not def then return {-1, ''} end
if redis.call('EXISTS', KEYS[1]) == 1 then return {0, ''} end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. token, 'PX', ARGV[2])
return {token, def}`)

/** KEYS lease; ARGV holder, ms -> 1 if `holder` still holds the lease (renewed for ms more). */
export const leaseRenew = new Script('leaseRenew', `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`)

/** KEYS lease; ARGV holder -> 1 if `holder` held the lease and let it go. */
export const leaseRelease = new Script('leaseRelease', `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

/**
 * KEYS mailbox stream, lease; ARGV holder, group, consumer, count, from
 * -> false when `holder` no longer holds the lease, else { entries, waitFrom }.
 * `from` is `>` (new entries), an id (this consumer's own unacknowledged
 * entries after it) or `takeover`: the first read of a new lease, which makes
 * what earlier holders read and did not acknowledge this consumer's (it comes
 * first, at least once), removes their consumer names, and reads it.
 * waitFrom is set when `>` found nothing: the stream's last id, to block on.
 */
export const mailboxRead = new Script('mailboxRead', `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return false end
local group, consumer, from = ARGV[2], ARGV[3], ARGV[5]
if from == 'takeover' then
  pcall(redis.call, 'XGROUP', 'CREATE', KEYS[1], group, '0', 'MKSTREAM')
  local cursor = '0-0'
  repeat
    local r = redis.call('XAUTOCLAIM', KEYS[1], group, consumer, 0, cursor, 'COUNT', 1000, 'JUSTID')
    cursor = r[1]
  until cursor == '0-0'
  for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], group)) do
    if c[2] ~= consumer then redis.call('XGROUP', 'DELCONSUMER', KEYS[1], group, c[2]) end
  end
  from = '0'
end
local r = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', ARGV[4], 'STREAMS', KEYS[1], from)
local entries = (r and r[1] and r[1][2]) or {}
if from == '>' and #entries == 0 then
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  for k = 1, #info, 2 do if info[k] == 'last-generated-id' then return {entries, info[k + 1]} end end
end
return {entries, ''}`)

/**
 * KEYS mailbox stream, def, exit; ARGV kind, keepMs, field, value, ... -> 1
 * delivered to an actor that exists; else for kind `tell` 2 (kept in the
 * mailbox for a later spawn, which expires keepMs after the last such
 * message), for `ask` and `control` nothing is added: 0 when no actor of
 * that name was spawned, -1 when it ended (its `exit` key says why).
 */
export const mailboxPost = new Script('mailboxPost', `
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('XADD', KEYS[1], '*', unpack(ARGV, 3))
  return 1
end
if ARGV[1] == 'tell' then
  redis.call('XADD', KEYS[1], '*', unpack(ARGV, 3))
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 2
end
if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
return 0`)

/**
 * KEYS mailbox stream, lease, inbox stream, ...; ARGV holder, group, nIds,
 * id x nIds, then per reply: inbox (index into KEYS), ttlMs, taskId, payload,
 * isError -> entries acknowledged (and deleted), or false when fenced. The
 * replies are recorded only when the acknowledgement is (as the reply script
 * does); on a Redis Cluster the inboxes are in other slots, so none are passed.
 */
export const mailboxAck = new Script('mailboxAck', `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return false end
local last = 3 + tonumber(ARGV[3])
local n = redis.call('XACK', KEYS[1], ARGV[2], unpack(ARGV, 4, last))
redis.call('XDEL', KEYS[1], unpack(ARGV, 4, last))
for k = last + 1, #ARGV, 5 do
  local inbox = KEYS[tonumber(ARGV[k])]
  if ARGV[k + 4] == '1' then redis.call('XADD', inbox, '*', ARGV[k + 2], ARGV[k + 3], 'e', '1')
  else redis.call('XADD', inbox, '*', ARGV[k + 2], ARGV[k + 3]) end
  if redis.call('PTTL', inbox) < 0 then redis.call('PEXPIRE', inbox, ARGV[k + 1]) end
end
return n`)

/**
 * KEYS mailbox stream, lease, def, fence, exit; ARGV holder, reason, exitTtlMs
 * -> false when fenced, else the entries left in the mailbox (so their askers
 * can be told). The actor ended for good: its mailbox, lease and definition
 * go, and why it ended stays in `exit` for exitTtlMs.
 */
export const mailboxEnd = new Script('mailboxEnd', `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return false end
local left = redis.call('XRANGE', KEYS[1], '-', '+')
redis.call('SET', KEYS[5], ARGV[2], 'PX', ARGV[3])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return left`)

/**
 * KEYS inbox stream; ARGV ttlMs, taskId, payload, isError -> entry id. A reply
 * to an ask: an inbox whose node stopped renewing it expires ttlMs after its
 * last reply, so askers that died leave nothing behind.
 */
export const reply = new Script('reply', `
local id
if ARGV[4] == '1' then id = redis.call('XADD', KEYS[1], '*', ARGV[2], ARGV[3], 'e', '1')
else id = redis.call('XADD', KEYS[1], '*', ARGV[2], ARGV[3]) end
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return id`)

/**
 * KEYS set, version; ARGV 'SADD' or 'SREM', member, ... -> members added or
 * removed. A shared set read by many (the actor registry, the subscriptions):
 * any change gives it a new version (time + count, so a set deleted and built
 * again never repeats one), which readers compare to the one they cached.
 */
export const setChange = new Script('setChange', `
local n = redis.call(ARGV[1], KEYS[1], unpack(ARGV, 2))
if n > 0 then
  local old = redis.call('GET', KEYS[2])
  local count = 0
  if old then count = tonumber(string.match(old, ':(%d+)$')) or 0 end
  local t = redis.call('TIME')
  redis.call('SET', KEYS[2], t[1] .. t[2] .. ':' .. (count + 1))
end
return n`)

/** KEYS set, version; ARGV version cached -> {version} when it is still that, else {version, members}. */
export const setRead = new Script('setRead', `
local v = redis.call('GET', KEYS[2]) or ''
if v == ARGV[1] then return {v} end
return {v, redis.call('SMEMBERS', KEYS[1])}`)

/** Every script, for `load`. */
export const allScripts = [put, putMany, delay, promote, ack, settle, reclaim, record, sizes, prune, purge, retryDead, dropDead, delayedAction,
  leaseTake, leaseRenew, leaseRelease, mailboxPost, mailboxRead, mailboxAck, mailboxEnd, reply, setChange, setRead]
