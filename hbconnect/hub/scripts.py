"""The Lua scripts of the hub: every write to a pair's stream happens inside one of them, after
checking in the same atomic step that the writer still holds the pair's lease (fencing: a hub
that lost its lease can never write again, however late its writes arrive)."""
from __future__ import annotations

__all__ = ["PUBLISH", "RENEW", "RELEASE", "REGISTER", "REKEY"]

#: KEYS: per pair group: lease, stream, snapshot.  ARGV[1]: MAXLEN (approximate trim).
#: Then per group: epoch, the sequence of its first entry, n entries, 1/0 snapshot follows;
#: n x (kind, data) -- the entries' sequences are contiguous, so they are not sent one by one;
#: and when a snapshot follows: seq, data, the stream id to use when the group adds no entry and
#: the stream is empty, the pair's last trade ('' when none).
#: Returns per group: the stream id of its last entry ('' when it added none), or 0 when the
#: lease is not (or no longer) the group's epoch -- then nothing of the group was written.
PUBLISH = """
local maxlen = ARGV[1]
local a = 2
local out = {}
for g = 1, #KEYS / 3 do
  local lease, stream, snap = KEYS[3*g-2], KEYS[3*g-1], KEYS[3*g]
  local epoch = ARGV[a]
  local seq = tonumber(ARGV[a+1])
  local n = tonumber(ARGV[a+2])
  local ns = tonumber(ARGV[a+3])
  a = a + 4
  if redis.call('GET', lease) == epoch then
    local id = ''
    for i = 0, n - 1 do
      id = redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*',
                      'e', epoch, 's', string.format('%d', seq + i), 'k', ARGV[a], 'd', ARGV[a+1])
      a = a + 2
    end
    if ns == 1 then
      local sid = id
      if sid == '' then
        -- no entry in this call: the stream's last entry is the epoch's entry s (the lease
        -- fences every writer), whatever the hub knew of it (its earlier write may be in flight)
        local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
        if last[1] then sid = last[1][1] else sid = ARGV[a+2] end
      end
      if ARGV[a+3] == '' then
        redis.call('HSET', snap, 'e', epoch, 's', ARGV[a], 'sid', sid, 'd', ARGV[a+1])
      else
        redis.call('HSET', snap, 'e', epoch, 's', ARGV[a], 'sid', sid, 'd', ARGV[a+1], 't', ARGV[a+3])
      end
      a = a + 4
    end
    out[g] = id
  else
    a = a + 2 * n + 4 * ns
    out[g] = 0
  end
end
return out
"""

#: KEYS: leases.  ARGV[1]: TTL ms, then one epoch per lease.  Returns 1 (renewed) / 0 (lost) each.
RENEW = """
local out = {}
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[i+1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[1])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
"""

#: KEYS: leases.  ARGV: one epoch per lease.  Deletes the leases still held by those epochs.
RELEASE = """
local n = 0
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[i] then
    redis.call('DEL', KEYS[i])
    n = n + 1
  end
end
return n
"""

#: KEYS[1]: the hubs sorted set.  ARGV: hub id, TTL ms.  Registers the hub until now + TTL (server
#: time), forgets expired hubs, returns the live hub ids.
REGISTER = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ARGV[1] ~= '' then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 10)
end
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""

#: KEYS[1]: a lease.  ARGV: old epoch, new epoch, TTL ms.  The old epoch (whose writes failed) or
#: nobody holds it: the new epoch takes it (1); someone else does: 0.
REKEY = """
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] or not cur then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""
