import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { encodeBusMessage } from '../bus/bus-codec.js';
import {
  ChannelPrefixError,
  isChannelPrefix,
  redisChannel,
} from '../bus/channels.js';
import { RedisConnection } from '../bus/redis-connection.js';
import {
  presenceChannel,
  type PresenceChange,
  type PresenceMember,
  type PresenceSnapshot,
  type PresenceStore,
} from './presence-store.js';

/** Where the Redis presence store connects, how it names its keys, and how long a part lives. */
export interface RedisPresenceOptions {
  /** `redis://[:password@]host[:port][/db]` or `rediss://...` */
  url: string;
  /**
   * Starts every key and channel name (`<prefix>|<name>`), as the Redis bus's channels do, so
   * that several deployments can share one Redis. Must not contain `|`.
   */
  channelPrefix: string;
  /**
   * This instance's id: whose part of a room it states, and the `origin` of the changes it
   * publishes, so its own bus skips them (the caller has them). No `|` or newline.
   */
  instanceId: string;
  /** How long this instance's part of a room lives unless set or refreshed again. */
  ttlMs: number;
}

/** Expired entries a script drops per call: a dead instance's 100k members are not one long script. */
const SWEEP_BATCH = 1_000;
/** Members per refresh script call. */
const REFRESH_CHUNK = 1_000;
/** Refresh script calls in flight at once: queued behind each other, later ones would time out. */
const REFRESH_CONCURRENCY = 4;
/** The keys of a room live this many `ttlMs` after their last write, so that sweeps see what expired. */
const KEY_TTLS = 3;

/**
 * What every script starts with. KEYS: the room's hash, expiry set and version counter. ARGV[1..4]:
 * the room as JSON, the bus channel, the bus header of the changes, the keys' ttl (ms).
 *
 * A hash field is a member id; its value `<counts>\n<member>`: the connection count of each
 * instance that has the member (`{"<instanceId>":n}`, never empty, handled with cjson), and the
 * member's JSON `{"id":..,"info":..}` exactly as the caller encoded it (cjson would rewrite its
 * numbers). An expiry set entry `<instanceId>|<memberId>` is scored with when that part of the
 * member expires (ms, Redis's clock).
 */
const LUA_PRELUDE = `local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

local function parse(value)
  local nl = string.find(value, '\\n', 1, true)
  return cjson.decode(string.sub(value, 1, nl - 1)), string.sub(value, nl + 1)
end

local function store(id, counts, member)
  redis.call('HSET', KEYS[1], id, cjson.encode(counts) .. '\\n' .. member)
end

-- The next version, published and returned as a change frame. A counter that is gone (expired,
-- deleted, a Redis restarted empty) starts again from Redis's clock in microseconds, above any
-- version its earlier life handed out, so that versions never go back.
local function change(member, present)
  if redis.call('EXISTS', KEYS[3]) == 0 then
    redis.call('SET', KEYS[3], string.format('%.0f', tonumber(clock[1]) * 1000000 + tonumber(clock[2])))
  end
  local version = string.format('%.0f', redis.call('INCR', KEYS[3]))
  local frame = '{"room":' .. ARGV[1] .. ',"member":' .. member .. ',"present":' .. (present and 'true' or 'false') .. ',"version":' .. version .. '}'
  redis.call('PUBLISH', ARGV[2], ARGV[3] .. frame)
  return frame
end

-- Extends, never shortens: an instance with a shorter ttl must not cut another's keys.
local function keep()
  local ms = tonumber(ARGV[4])
  for i = 1, 3 do
    if redis.call('PTTL', KEYS[i]) < ms then redis.call('PEXPIRE', KEYS[i], ms) end
  end
end

-- Drops up to budget expired parts; returns the changes and whether more may have expired.
local function sweep(budget)
  local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, budget)
  local changes = {}
  for _, entry in ipairs(expired) do
    local bar = string.find(entry, '|', 1, true)
    local value = bar and redis.call('HGET', KEYS[1], string.sub(entry, bar + 1))
    if value then
      local instance, id = string.sub(entry, 1, bar - 1), string.sub(entry, bar + 1)
      local counts, member = parse(value)
      if counts[instance] ~= nil then
        counts[instance] = nil
        if next(counts) == nil then
          redis.call('HDEL', KEYS[1], id)
          changes[#changes + 1] = change(member, false)
        else
          store(id, counts, member)
        end
      end
    end
  end
  if #expired > 0 then redis.call('ZREM', KEYS[2], unpack(expired)) end
  return changes, #expired == budget
end
`;

/**
 * ARGV[5..]: instance id, member id, member JSON, connections, ttl (ms). Returns the change
 * frame, or nil. A leave carries the member as stored (its info as it was).
 */
const SET_SCRIPT = `${LUA_PRELUDE}
local instance, id, given, n = ARGV[5], ARGV[6], ARGV[7], tonumber(ARGV[8])
local entry = instance .. '|' .. id
local value = redis.call('HGET', KEYS[1], id)
local counts, member = {}, given
if value then counts, member = parse(value) end
local before = next(counts) ~= nil
if n > 0 then
  counts[instance] = n
  member = given
  redis.call('ZADD', KEYS[2], string.format('%.0f', now + tonumber(ARGV[9])), entry)
else
  counts[instance] = nil
  redis.call('ZREM', KEYS[2], entry)
end
local after = next(counts) ~= nil
if after then
  store(id, counts, member)
elseif value then
  redis.call('HDEL', KEYS[1], id)
end
local frame = false
if before ~= after then frame = change(member, after) end
keep()
return frame`;

/**
 * ARGV[5..]: instance id, ttl (ms), then (member id, connections, member JSON) per member.
 * Rewrites only what differs; returns the change frames (joins of members the store had lost).
 */
const REFRESH_SCRIPT = `${LUA_PRELUDE}
local instance = ARGV[5]
local expiry = string.format('%.0f', now + tonumber(ARGV[6]))
local scores = {}
local changes = {}
for i = 7, #ARGV, 3 do
  local id, n, given = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  local value = redis.call('HGET', KEYS[1], id)
  local counts, member = {}, nil
  if value then counts, member = parse(value) end
  if n > 0 then
    if counts[instance] ~= n or member ~= given then
      counts[instance] = n
      store(id, counts, given)
    end
    scores[#scores + 1] = expiry
    scores[#scores + 1] = instance .. '|' .. id
    if not value then changes[#changes + 1] = change(given, true) end
  elseif counts[instance] ~= nil then
    counts[instance] = nil
    redis.call('ZREM', KEYS[2], instance .. '|' .. id)
    if next(counts) == nil then
      redis.call('HDEL', KEYS[1], id)
      changes[#changes + 1] = change(member, false)
    else
      store(id, counts, member)
    end
  end
end
if #scores > 0 then redis.call('ZADD', KEYS[2], unpack(scores)) end
keep()
return changes`;

/** ARGV[5]: batch. Returns {more (0 or 1), change frames}. */
const SWEEP_SCRIPT = `${LUA_PRELUDE}
local changes, more = sweep(tonumber(ARGV[5]))
keep()
return {more and 1 or 0, changes}`;

/**
 * ARGV[5..]: limit, sweep batch. Sweeps first; while more may have expired it returns {1} (call
 * again), else {0, count, version, values}: at most limit values of members, taken by HSCAN when
 * the room has more, so the cost follows what is returned and what expired, not the room's size.
 */
const LIST_SCRIPT = `${LUA_PRELUDE}
local limit = tonumber(ARGV[5])
local _, more = sweep(tonumber(ARGV[6]))
keep()
if more then return {1} end
local count = redis.call('HLEN', KEYS[1])
local version = redis.call('GET', KEYS[3]) or '0'
local values = {}
if limit > 0 and count > 0 then
  if count <= limit then
    local all = redis.call('HGETALL', KEYS[1])
    for i = 2, #all, 2 do values[#values + 1] = all[i] end
  else
    local seen = {}
    local cursor = '0'
    repeat
      local page = redis.call('HSCAN', KEYS[1], cursor, 'COUNT', limit - #values)
      cursor = page[1]
      local fields = page[2]
      for i = 1, #fields, 2 do
        if #values < limit and not seen[fields[i]] then
          seen[fields[i]] = true
          values[#values + 1] = fields[i + 1]
        end
      end
    until cursor == '0' or #values >= limit
  end
end
return {0, count, version, values}`;

/** The scripts, as {@link Redis.defineCommand} adds them (EVALSHA, EVAL on NOSCRIPT). */
interface PresenceCommands {
  presenceSet(...args: string[]): Promise<string | null>;
  presenceRefresh(...args: string[]): Promise<string[]>;
  presenceSweep(...args: string[]): Promise<[more: number, changes: string[]]>;
  presenceList(
    ...args: string[]
  ): Promise<
    [more: 1] | [more: 0, count: number, version: string, values: string[]]
  >;
}

/** Throws a `RangeError` unless `value` is a safe integer of at least `min`. */
function checkCount(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min)
    throw new RangeError(
      `${name} must be an integer of at least ${min} (got ${String(value)})`,
    );
}

/** The member as stored and published: `{"id":..,"info":..}`. */
function memberJson(member: Omit<PresenceMember, 'connections'>): string {
  return JSON.stringify({ id: member.id, info: member.info });
}

/** A member's stored value (`<counts>\n<member>`) as a listed member. */
function listedMember(value: string): PresenceMember {
  const newline = value.indexOf('\n');
  const counts = JSON.parse(value.slice(0, newline)) as Record<string, number>;
  const { id, info } = JSON.parse(value.slice(newline + 1)) as Omit<
    PresenceMember,
    'connections'
  >;
  let connections = 0;
  for (const n of Object.values(counts)) connections += n;
  return { id, info, connections };
}

const parseChange = (frame: string) => JSON.parse(frame) as PresenceChange;

/**
 * Presence in Redis. Per room (`<prefix>|presence:<room>`, `<prefix>|presence-exp:<room>`,
 * `<prefix>|presence-v:<room>`): a hash of the members, each with every instance's connection
 * count and its JSON; a sorted set of the instances' parts (`<instanceId>|<memberId>`) by expiry
 * (Redis's clock); and the version counter. The keys live {@link KEY_TTLS} ttls after their last
 * write. One Redis (or Sentinel); not Cluster: each script touches three keys of one room.
 *
 * Every write is one script that also publishes the changes it makes on the room's presence bus
 * channel (`presence:<room>`), in the bus's `g1` form, the frame being the {@link PresenceChange}
 * JSON, so every instance sees a room's changes in version order. Changes that `set`, `refresh`
 * and `sweep` make are published with this instance's id as origin (its own bus skips them: the
 * caller has them); those that `list` makes while dropping expired parts come back to no caller,
 * so their origin is `<instanceId>/list` and this instance's bus delivers them too.
 *
 * Versions increase per room for as long as its counter lives; a counter that is lost starts
 * again from Redis's clock in microseconds, so versions do not go back after the keys expired or
 * Redis restarted empty (they are not 1, 2, 3...).
 *
 * Like the bus, it queues and retries nothing: while Redis is away every call rejects at once
 * (or after 2 s when Redis stops answering). A call that timed out or lost its connection may
 * still have been carried out.
 */
export class RedisPresenceStore
  implements PresenceStore, OnApplicationShutdown
{
  private readonly connection: RedisConnection;
  private readonly commands: PresenceCommands;
  private readonly keyTtl: string;

  /**
   * Throws {@link ChannelPrefixError} for a prefix with `|`, and a `RangeError` for an instance
   * id with `|` or a newline (or empty) or a ttl that is not a positive integer, before connecting.
   */
  constructor(private readonly options: RedisPresenceOptions) {
    if (!isChannelPrefix(options.channelPrefix))
      throw new ChannelPrefixError(options.channelPrefix);
    if (!/^[^|\n]+$/.test(options.instanceId))
      throw new RangeError(
        `instanceId must be non-empty, without "|" or a newline (got ${JSON.stringify(options.instanceId)})`,
      );
    checkCount('ttlMs', options.ttlMs, 1);
    this.keyTtl = String(options.ttlMs * KEY_TTLS);
    this.connection = new RedisConnection({
      url: options.url,
      name: 'gateway-presence',
      role: 'presence',
      whenLost: 'presence answers UNAVAILABLE',
      logger: new Logger('RedisPresence'),
    });
    const { redis } = this.connection;
    const scripts = {
      presenceSet: SET_SCRIPT,
      presenceRefresh: REFRESH_SCRIPT,
      presenceSweep: SWEEP_SCRIPT,
      presenceList: LIST_SCRIPT,
    };
    for (const [name, lua] of Object.entries(scripts))
      redis.defineCommand(name, { numberOfKeys: 3, lua });
    this.commands = redis as unknown as PresenceCommands;
  }

  /** Whether the store can be used right now (readiness). */
  isReady(): boolean {
    return this.connection.isReady();
  }

  /**
   * Sets this instance's count of `member`'s connections in `room` (0 removes its part) and
   * keeps the part alive another `ttlMs`. A member present keeps the info set last; a leave
   * carries the info as stored. Rejects with a `RangeError` for a count that is not an integer
   * of at least 0.
   */
  async set(
    room: string,
    member: Omit<PresenceMember, 'connections'>,
    connections: number,
  ): Promise<PresenceChange | undefined> {
    checkCount('connections', connections, 0);
    const frame = await this.connection.call(() =>
      this.commands.presenceSet(
        ...this.head(room),
        this.options.instanceId,
        member.id,
        memberJson(member),
        String(connections),
        String(this.options.ttlMs),
      ),
    );
    return frame ? parseChange(frame) : undefined;
  }

  /**
   * Drops the room's expired parts first (their changes published, see the class), then reads
   * its count, version and at most `limit` members, at one moment.
   */
  async list(room: string, limit: number): Promise<PresenceSnapshot> {
    checkCount('limit', limit, 0);
    for (;;) {
      const result = await this.connection.call(() =>
        this.commands.presenceList(
          ...this.head(room, `${this.options.instanceId}/list`),
          String(limit),
          String(SWEEP_BATCH),
        ),
      );
      if (result[0] === 1) continue;
      const [, count, version, values] = result;
      return {
        members: values.map(listedMember),
        count,
        version: Number(version),
      };
    }
  }

  /**
   * Writes this instance's part of every room again (count and info of each member, a member
   * with 0 connections removed) and keeps it alive another `ttlMs`: a member the store had lost
   * (Redis restarted empty, its part expired) joins again. One script call per room and
   * {@link REFRESH_CHUNK} members. Rejects when any call failed; the changes of the calls that
   * went through are published all the same.
   */
  async refresh(
    parts: ReadonlyMap<string, ReadonlyMap<string, PresenceMember>>,
  ): Promise<PresenceChange[]> {
    const calls: { room: string; members: PresenceMember[] }[] = [];
    for (const [room, members] of parts) {
      const list = [...members.values()];
      for (const m of list) checkCount('connections', m.connections, 0);
      for (let i = 0; i < list.length; i += REFRESH_CHUNK)
        calls.push({ room, members: list.slice(i, i + REFRESH_CHUNK) });
    }
    const frames: string[][] = Array.from(calls, () => []);
    let next = 0;
    let failure: unknown;
    const worker = async () => {
      while (failure === undefined && next < calls.length) {
        const index = next++;
        const { room, members } = calls[index];
        const args: string[] = [];
        for (const m of members)
          args.push(m.id, String(m.connections), memberJson(m));
        try {
          frames[index] = await this.connection.call(() =>
            this.commands.presenceRefresh(
              ...this.head(room),
              this.options.instanceId,
              String(this.options.ttlMs),
              ...args,
            ),
          );
        } catch (err) {
          failure ??= err;
        }
      }
    };
    await Promise.all(Array.from({ length: REFRESH_CONCURRENCY }, worker));
    if (failure !== undefined) throw failure;
    return frames.flat().map(parseChange);
  }

  /**
   * Drops the room's expired parts (another instance's that stopped refreshing, or this
   * instance's own that it failed to remove) and resolves with the leaves this caused.
   */
  async sweep(room: string): Promise<PresenceChange[]> {
    const changes: PresenceChange[] = [];
    for (;;) {
      const [more, frames] = await this.connection.call(() =>
        this.commands.presenceSweep(...this.head(room), String(SWEEP_BATCH)),
      );
      changes.push(...frames.map(parseChange));
      if (!more) return changes;
    }
  }

  /** After the connections have drained (Nest's last shutdown phase), not before. */
  async onApplicationShutdown(): Promise<void> {
    await this.connection.close();
  }

  /** The keys and the arguments every script starts with (see {@link LUA_PRELUDE}). */
  private head(room: string, origin = this.options.instanceId): string[] {
    const prefix = this.options.channelPrefix;
    return [
      redisChannel(prefix, `presence:${room}`),
      redisChannel(prefix, `presence-exp:${room}`),
      redisChannel(prefix, `presence-v:${room}`),
      JSON.stringify(room),
      redisChannel(prefix, presenceChannel(room)),
      encodeBusMessage({ origin, sentAt: Date.now(), frame: '' }),
      this.keyTtl,
    ];
  }
}
