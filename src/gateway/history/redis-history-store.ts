import { randomBytes } from 'node:crypto';
import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { streamHeaderStart } from '../bus/bus-codec.js';
import {
  ChannelPrefixError,
  isChannelPrefix,
  redisChannel,
  roomChannel,
} from '../bus/channels.js';
import { RedisConnection } from '../bus/redis-connection.js';
import {
  FRAME_TAIL,
  type AppendRequest,
  type Appended,
  type HistoryStore,
  type ReadRequest,
  type ReadResult,
  type StoredMessage,
} from './history-store.js';

/** Where the Redis history store connects, and how it names its keys. */
export interface RedisHistoryOptions {
  /** `redis://[:password@]host[:port][/db]` or `rediss://...` */
  url: string;
  /**
   * Starts every key and channel name (`<prefix>|<name>`), as the Redis bus's channels do, so
   * that several deployments can share one Redis. Must not contain `|`.
   */
  channelPrefix: string;
  /** This instance's id: the `origin` of what it appends, so its own bus skips it. */
  instanceId: string;
}

/**
 * Redis's clock as ms since the epoch, in Lua. The entries of every instance are stamped by the
 * one clock, so their times only grow along a stream whatever the instances' clocks say, and
 * the age cut in {@link RedisHistoryStore.read} keeps a suffix of them.
 */
const LUA_NOW_MS = `local clock = redis.call('TIME')
local now = clock[1] .. string.format('%03d', math.floor(tonumber(clock[2]) / 1000))`;

/**
 * A stream whose meta hash is gone starts a new life: the stream is deleted with it, or its
 * entries (offsets of the old life) would be read as the new life's, and the next XADD would
 * be refused for an ID below the stream's top.
 */
const LUA_EPOCH = `local meta = redis.call('HMGET', KEYS[2], 'epoch', 'top')
local epoch = meta[1]
local top = tonumber(meta[2]) or 0
local fresh = not epoch
if fresh then
  redis.call('DEL', KEYS[1])
  epoch = ARGV[1]
  top = 0
end`;

/**
 * KEYS: stream, meta. ARGV: candidate epoch, size, ttlMs, frameHead, frame tail, bus channel,
 * bus header up to the offset. Returns {offset, epoch, receivers}.
 *
 * The entry is added before `top` moves, so a refused XADD leaves no gap in the offsets. The
 * PUBLISH is in the same script so that every instance receives a room's messages in offset
 * order, and none that was not stored.
 */
const APPEND_SCRIPT = `${LUA_EPOCH}
${LUA_NOW_MS}
local offset = top + 1
local frame = ARGV[4] .. offset .. ARGV[5]
redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], offset .. '-1', 't', now, 'f', frame)
redis.call('HSET', KEYS[2], 'epoch', epoch, 'top', offset)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
local receivers = redis.call('PUBLISH', ARGV[6], ARGV[7] .. offset .. '|' .. epoch .. '\\n' .. frame)
return {offset, epoch, receivers}`;

/**
 * KEYS: stream, meta. ARGV: candidate epoch, ttlMs, after ('' for the newest), limit.
 * Returns {epoch, top, now, entries}: the position and the range at one moment.
 *
 * A room that never had a stream gets an (empty) one here, so that the epoch a joining client
 * holds is the one the next append continues rather than a new life.
 */
const READ_SCRIPT = `${LUA_EPOCH}
if fresh then
  redis.call('HSET', KEYS[2], 'epoch', epoch, 'top', 0)
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
${LUA_NOW_MS}
local limit = tonumber(ARGV[4])
local entries = {}
if limit > 0 then
  local after = tonumber(ARGV[3]) or math.max(0, top - limit)
  if after < top then
    entries = redis.call('XRANGE', KEYS[1], (after + 1) .. '-1', '+', 'COUNT', limit)
  end
end
return {epoch, top, now, entries}`;

/** An XRANGE entry: ID and flat field/value list. */
type StreamEntry = [id: string, fields: string[]];

/** The scripts, as {@link Redis.defineCommand} adds them (EVALSHA, EVAL on NOSCRIPT). */
interface HistoryCommands {
  historyAppend(
    ...args: string[]
  ): Promise<[offset: number, epoch: string, receivers: number]>;
  historyRead(
    ...args: string[]
  ): Promise<[epoch: string, top: number, now: string, entries: StreamEntry[]]>;
}

/** A fresh epoch: 72 random bits, base64url (never `|` or a newline, which the bus header splits on). */
function newEpoch(): string {
  return randomBytes(9).toString('base64url');
}

/** Throws a `RangeError` unless `value` is a safe integer of at least `min`. */
function checkCount(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min)
    throw new RangeError(
      `${name} must be an integer of at least ${min} (got ${String(value)})`,
    );
}

function field(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2)
    if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/**
 * Room history in Redis: per room, a stream of the kept messages (`<prefix>|history:<room>`,
 * entry ID `<offset>-1`, fields `t` (Redis time, ms) and `f` (the frame)) and a hash
 * (`<prefix>|history-meta:<room>`, fields `epoch` and `top`). Both expire `ttlMs` after the
 * room's last append; a lost hash starts a new epoch. One Redis (or Sentinel); not Cluster:
 * each script touches two keys and a channel of one room, which a cluster would put on
 * different nodes.
 *
 * An append stores the message and publishes it on the room's bus channel in one script, in
 * the `g2` wire form the Redis bus decodes, so the instances receive a room's messages in
 * offset order; the publishing instance must not publish it on the bus again.
 *
 * Like the bus, it queues and retries nothing: while Redis is away every call rejects at once
 * (or after `REDIS_COMMAND_TIMEOUT_MS` when Redis stops answering), and the caller answers
 * `UNAVAILABLE`. A call that timed out or lost its connection may still have been carried out.
 */
export class RedisHistoryStore implements HistoryStore, OnApplicationShutdown {
  private readonly connection: RedisConnection;
  private readonly commands: HistoryCommands;

  /** Throws {@link ChannelPrefixError} for a prefix with `|`, before connecting. */
  constructor(private readonly options: RedisHistoryOptions) {
    if (!isChannelPrefix(options.channelPrefix))
      throw new ChannelPrefixError(options.channelPrefix);
    this.connection = new RedisConnection({
      url: options.url,
      name: 'gateway-history',
      role: 'history',
      whenLost: 'rooms with history answer UNAVAILABLE',
      logger: new Logger('RedisHistory'),
    });
    const { redis } = this.connection;
    redis.defineCommand('historyAppend', {
      numberOfKeys: 2,
      lua: APPEND_SCRIPT,
    });
    redis.defineCommand('historyRead', {
      numberOfKeys: 2,
      lua: READ_SCRIPT,
    });
    this.commands = redis as unknown as HistoryCommands;
  }

  /** Whether appends and reads can be served right now (readiness). */
  isReady(): boolean {
    return this.connection.isReady();
  }

  /**
   * Stores the message with the next offset of its room and publishes it to the room's bus
   * channel. `receivers` is Redis's count of the channel's subscribers but this instance's own
   * bus subscriber, which listens when the request says `subscribed`.
   *
   * Rejects with a `RangeError` for a retention of size 0 (a room without history is not
   * appended to), and with an `Error` saying Redis is unavailable when it cannot be reached.
   */
  async append(request: AppendRequest): Promise<Appended> {
    // Size 0 is a room without history: its messages are not appended.
    checkCount('retention.size', request.retention.size, 1);
    checkCount('retention.ttlMs', request.retention.ttlMs, 1);
    const { room, frameHead, retention } = request;
    const [offset, epoch, receivers] = await this.connection.call(() =>
      this.commands.historyAppend(
        this.streamKey(room),
        this.metaKey(room),
        newEpoch(),
        String(retention.size),
        String(retention.ttlMs),
        frameHead,
        FRAME_TAIL,
        redisChannel(this.options.channelPrefix, roomChannel(room)),
        streamHeaderStart(request),
      ),
    );
    return {
      offset,
      epoch,
      frame: `${frameHead}${offset}${FRAME_TAIL}`,
      receivers: Math.max(0, receivers - (request.subscribed ? 1 : 0)),
    };
  }

  /**
   * The room's epoch and top, and its kept messages in `(after, top]` (the newest `limit` when
   * `after` is omitted), read at one moment. Messages older than `retention.ttlMs` by Redis's
   * clock are left out even while their stream lives on. A room without a stream gets an empty
   * one with a fresh epoch, kept `ttlMs` unless an append comes.
   */
  async read(request: ReadRequest): Promise<ReadResult> {
    const { room, after, limit, retention } = request;
    checkCount('limit', limit, 0);
    if (after !== undefined) checkCount('after', after, 0);
    checkCount('retention.ttlMs', retention.ttlMs, 1);
    const [epoch, top, now, entries] = await this.connection.call(() =>
      this.commands.historyRead(
        this.streamKey(room),
        this.metaKey(room),
        newEpoch(),
        String(retention.ttlMs),
        after === undefined ? '' : String(after),
        String(limit),
      ),
    );
    return {
      epoch,
      top,
      messages: keptMessages(entries, Number(now) - retention.ttlMs),
    };
  }

  /** After the connections have drained (Nest's last shutdown phase), not before. */
  async onApplicationShutdown(): Promise<void> {
    await this.connection.close();
  }

  private streamKey(room: string): string {
    return redisChannel(this.options.channelPrefix, `history:${room}`);
  }

  private metaKey(room: string): string {
    return redisChannel(this.options.channelPrefix, `history-meta:${room}`);
  }
}

/**
 * The entries stamped at or after `cutoff`, as stored messages. Stamps only grow along a
 * stream, so the kept entries are a suffix and their offsets stay consecutive.
 */
function keptMessages(entries: StreamEntry[], cutoff: number): StoredMessage[] {
  const first = entries.findIndex(
    ([, fields]) => Number(field(fields, 't')) >= cutoff,
  );
  if (first === -1) return [];
  return entries.slice(first).map(([id, fields]) => ({
    offset: Number(id.slice(0, id.indexOf('-'))),
    frame: field(fields, 'f') ?? '',
  }));
}
