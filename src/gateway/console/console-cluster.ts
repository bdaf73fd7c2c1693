import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type {
  ConnectionRow,
  ErrorRow,
  InstanceStats,
  InstanceView,
  RoomRow,
  Series,
} from '../../protocol/console.js';
import { GatewayError } from '../../protocol/gateway-error.js';
import {
  MESSAGE_BUS,
  type BusMessage,
  type MessageBus,
} from '../bus/message-bus.js';
import { GATEWAY_OPTIONS } from '../gateway-options.token.js';
import type { ResolvedGatewayOptions } from '../gateway.options.js';
import { PresenceService } from '../presence/presence.service.js';
import { ConsoleAccess, type ConsoleUser } from './console-access.js';
import { ClusterView } from './cluster-view.js';
import { LocalConsole, type LocalRoomRow, type Page } from './local-console.js';

/** The bus channel every instance publishes its numbers on. */
const STATS_CHANNEL = 'console:stats';
/** The bus channel of logouts, so that every instance refuses the session from then on. */
const REVOKE_CHANNEL = 'console:revoke';
/** The bus channel of the console's questions to every instance. */
const ASK_CHANNEL = 'console:ask';
/** The bus channel of the answers to one instance's questions. */
const answerChannel = (instanceId: string) => `console:answer:${instanceId}`;

/** How long a question waits for the other instances' answers. */
const ANSWER_TIMEOUT_MS = 1_000;
/** Rooms whose presence count a rooms page looks up (a store read each). */
const PRESENCE_LOOKUPS = 50;

/** What the console asks every instance (or one), and what each answers. */
interface Questions {
  rooms: { args: { q: string }; answer: LocalRoomRow[] };
  connections: {
    args: { q: string; limit: number };
    answer: Page<ConnectionRow>;
  };
  errors: { args: { limit: number }; answer: ErrorRow[] };
  disconnect: {
    args: { connectionId: string; code: number; reason: string };
    answer: boolean;
  };
}
type Kind = keyof Questions;

interface Question<K extends Kind = Kind> {
  id: string;
  kind: K;
  args: Questions[K]['args'];
  /** Set: only that instance answers. */
  target?: string;
}

interface Pending {
  expected: Set<string>;
  answers: unknown[];
  done: () => void;
}

/** Answers merged from every instance; `partial` when one the console knows of did not answer. */
export interface Gathered<T> {
  rows: T[];
  total: number;
  partial: boolean;
}

/**
 * The console's view of the whole cluster, over the message bus: each instance publishes its
 * numbers every `statsIntervalMs` (only while the console is on; nothing on a message's path),
 * and answers the console's questions (rooms, connections, errors, a disconnect) for its own
 * part. Without Redis there is one instance and the same code answers itself.
 */
@Injectable()
export class ConsoleCluster implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Console');
  private readonly view?: ClusterView;
  private timer?: NodeJS.Timeout;
  private readonly pending = new Map<string, Pending>();
  private readonly listeners = new Set<(instances: InstanceView[]) => void>();
  private readonly endings = new Set<(sessionId: string) => void>();
  private readonly intervalMs: number;

  constructor(
    @Inject(GATEWAY_OPTIONS) private readonly options: ResolvedGatewayOptions,
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    private readonly local: LocalConsole,
    private readonly presence: PresenceService,
    private readonly access: ConsoleAccess,
  ) {
    this.intervalMs = options.console?.statsIntervalMs ?? 0;
    if (options.console) this.view = new ClusterView(this.intervalMs);
  }

  get instanceId(): string {
    return this.local.instanceId;
  }

  get statsIntervalMs(): number {
    return this.intervalMs;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.view) return;
    const subscriptions = [
      this.bus.subscribe(STATS_CHANNEL, (message) => this.heard(message)),
      this.bus.subscribe(ASK_CHANNEL, (message) => this.asked(message)),
      this.bus.subscribe(REVOKE_CHANNEL, (message) => this.revoked(message)),
      this.bus.subscribe(answerChannel(this.instanceId), (message) =>
        this.answered(message),
      ),
    ];
    // A bus that is down now subscribes when it returns; the console works locally meanwhile.
    await Promise.all(subscriptions).catch((err: unknown) =>
      this.logger.warn({ err }, 'console channels not subscribed yet'),
    );
    this.tick();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const pending of this.pending.values()) pending.done();
    if (!this.view) return;
    await Promise.allSettled([
      this.bus.unsubscribe(STATS_CHANNEL),
      this.bus.unsubscribe(ASK_CHANNEL),
      this.bus.unsubscribe(REVOKE_CHANNEL),
      this.bus.unsubscribe(answerChannel(this.instanceId)),
    ]);
  }

  /** Every instance known, and the kept series when `withSeries`. */
  instances(now = Date.now()): InstanceView[] {
    return this.view?.list(now) ?? [];
  }

  series(): Series {
    return this.view?.series() ?? {};
  }

  /** Calls `listener` with every instance each time this instance has published its numbers. */
  onStats(listener: (instances: InstanceView[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Ends a cookie session on every instance (a logout): its cookie is refused from now on, and
   * the console sockets it opened are closed.
   */
  async endSession(user: ConsoleUser): Promise<void> {
    if (!user.session || user.expiresAt === undefined) return;
    const id = this.access.sessionId(user.session);
    this.sessionEnded(id, user.expiresAt);
    await this.bus
      .publish(REVOKE_CHANNEL, {
        origin: this.instanceId,
        frame: JSON.stringify({ id, expiresAt: user.expiresAt }),
      })
      .catch((err: unknown) =>
        this.logger.warn(
          { err },
          'logout not published: other instances accept the session until it expires',
        ),
      );
  }

  /** Calls `listener` with the id of each session that ends, here or on another instance. */
  onSessionEnded(listener: (sessionId: string) => void): () => void {
    this.endings.add(listener);
    return () => this.endings.delete(listener);
  }

  /** The rooms whose name contains `q`, merged over the instances, most members first. */
  async rooms(q: string, limit: number): Promise<Gathered<RoomRow>> {
    const { answers, partial } = await this.ask('rooms', { q });
    const merged = new Map<string, RoomRow>();
    for (const rows of answers)
      for (const row of rows) {
        const room = merged.get(row.name);
        if (!room) {
          merged.set(row.name, { ...row, instances: 1 });
          continue;
        }
        room.members += row.members;
        room.instances++;
        // Every instance with members delivers every message: the rate is one of theirs.
        room.messagesPerSec = Math.max(room.messagesPerSec, row.messagesPerSec);
        if ((row.history?.offset ?? 0) > (room.history?.offset ?? 0))
          room.history = row.history;
      }
    const rows = [...merged.values()]
      .sort((a, b) => b.members - a.members || a.name.localeCompare(b.name))
      .slice(0, limit);
    if (this.options.presence.enabled)
      await Promise.all(
        rows.slice(0, PRESENCE_LOOKUPS).map(async (row) => {
          try {
            row.presence = (await this.presence.view(row.name, true)).count;
          } catch {
            // The store is away: the row goes without its presence count.
          }
        }),
      );
    return { rows, total: merged.size, partial };
  }

  /** Connections matching `q` over the instances, at most `limit`. */
  async connections(
    q: string,
    limit: number,
  ): Promise<Gathered<ConnectionRow>> {
    const { answers, partial } = await this.ask('connections', { q, limit });
    const rows: ConnectionRow[] = [];
    let total = 0;
    for (const page of answers) {
      total += page.total;
      rows.push(...page.rows);
    }
    rows.sort((a, b) => b.openedAt - a.openedAt);
    return { rows: rows.slice(0, limit), total, partial };
  }

  /** The last errors of every instance, newest first. */
  async errors(limit: number): Promise<Gathered<ErrorRow>> {
    const { answers, partial } = await this.ask('errors', { limit });
    const rows = answers.flat().sort((a, b) => b.at - a.at);
    return { rows: rows.slice(0, limit), total: rows.length, partial };
  }

  /**
   * Closes a connection on whichever instance holds it; false when that instance has no such
   * connection. Rejects with `UNAVAILABLE` when the instance does not answer.
   */
  async disconnect(
    connectionId: string,
    code: number,
    reason: string,
  ): Promise<boolean> {
    const dash = connectionId.lastIndexOf('-');
    const target = dash > 0 ? connectionId.slice(0, dash) : undefined;
    if (!target) return false;
    if (target === this.instanceId)
      return this.local.disconnect(connectionId, code, reason);
    // No need to wait for an instance that is silent: one never heard of holds no such
    // connection; one gone silent may still hold it, cut off from the bus.
    const known = this.instances().find((instance) => instance.id === target);
    if (!known) return false;
    if (known.gone)
      throw GatewayError.unavailable(
        `instance ${target} is gone: it has not been heard from since ${new Date(known.lastSeen).toISOString()}`,
      );
    const { answers } = await this.ask(
      'disconnect',
      { connectionId, code, reason },
      target,
    );
    if (answers.length === 0)
      throw GatewayError.unavailable(
        `instance ${target} did not answer; it may be gone`,
      );
    return answers[0];
  }

  /** How this instance answers each question for its own part. */
  private readonly answerers: {
    [K in Kind]: (args: Questions[K]['args']) => Questions[K]['answer'];
  } = {
    rooms: ({ q }) => this.local.roomRows(q),
    connections: ({ q, limit }) => this.local.connectionRows(q, limit),
    errors: ({ limit }) => this.local.errorRows(limit),
    disconnect: ({ connectionId, code, reason }) =>
      this.local.disconnect(connectionId, code, reason),
  };

  /**
   * Asks the instances (or `target` alone), this one answering for itself, and waits at most
   * {@link ANSWER_TIMEOUT_MS} for the others the view knows of.
   */
  private async ask<K extends Kind>(
    kind: K,
    args: Questions[K]['args'],
    target?: string,
  ): Promise<{ answers: Questions[K]['answer'][]; partial: boolean }> {
    const answers: Questions[K]['answer'][] = [];
    if (!target) answers.push(this.answerers[kind](args));
    const now = Date.now();
    const expected = new Set(
      target
        ? [target]
        : (this.view?.live(now) ?? []).filter((id) => id !== this.instanceId),
    );
    if (expected.size === 0) return { answers, partial: false };
    const question: Question<K> = { id: randomUUID(), kind, args, target };
    const collected: unknown[] = [];
    const finished = new Promise<void>((resolve) => {
      const timer = setTimeout(() => done(), ANSWER_TIMEOUT_MS);
      const done = () => {
        clearTimeout(timer);
        this.pending.delete(question.id);
        resolve();
      };
      this.pending.set(question.id, { expected, answers: collected, done });
    });
    try {
      await this.bus.publish(ASK_CHANNEL, {
        origin: this.instanceId,
        frame: JSON.stringify(question),
      });
    } catch {
      this.pending.get(question.id)?.done();
    }
    await finished;
    answers.push(...(collected as Questions[K]['answer'][]));
    return { answers, partial: expected.size > 0 };
  }

  /** Publishes this instance's numbers, and hands every instance to the listeners. */
  private tick(): void {
    const view = this.view;
    if (!view) return;
    const now = Date.now();
    let stats: InstanceStats;
    try {
      stats = this.local.stats(now);
    } catch (err) {
      this.logger.error({ err }, 'console stats failed');
      return;
    }
    view.update(stats, now);
    this.bus
      .publish(STATS_CHANNEL, {
        origin: this.instanceId,
        frame: JSON.stringify(stats),
      })
      .catch(() => undefined);
    if (this.listeners.size === 0) return;
    const instances = view.list(now);
    for (const listener of this.listeners) listener(instances);
  }

  private sessionEnded(id: string, expiresAt: number): void {
    this.access.revoke(id, expiresAt);
    for (const listener of this.endings) listener(id);
  }

  private revoked(message: BusMessage): void {
    const ended = parse<{ id?: unknown; expiresAt?: unknown }>(message.frame);
    if (typeof ended?.id === 'string' && typeof ended.expiresAt === 'number')
      this.sessionEnded(ended.id, ended.expiresAt);
  }

  private heard(message: BusMessage): void {
    const stats = parse<InstanceStats>(message.frame);
    if (stats && typeof stats.id === 'string' && stats.id === message.origin)
      this.view?.update(stats, Date.now());
  }

  private asked(message: BusMessage): void {
    const question = parse<Question>(message.frame);
    if (!question || typeof question.id !== 'string') return;
    if (question.target !== undefined && question.target !== this.instanceId)
      return;
    let answer: unknown;
    try {
      if (!Object.hasOwn(this.answerers, question.kind)) return;
      // A question from another instance of the same deployment: its arguments are the ones
      // its console checked (Redis is trusted, see docs/security.md).
      answer = (this.answerers[question.kind] as (args: unknown) => unknown)(
        question.args,
      );
    } catch (err) {
      this.logger.warn({ err, kind: question.kind }, 'console question failed');
      return;
    }
    this.bus
      .publish(answerChannel(message.origin), {
        origin: this.instanceId,
        frame: JSON.stringify({ id: question.id, answer }),
      })
      .catch(() => undefined);
  }

  private answered(message: BusMessage): void {
    const reply = parse<{ id: string; answer: unknown }>(message.frame);
    const pending = reply && this.pending.get(reply.id);
    if (!pending || !pending.expected.delete(message.origin)) return;
    pending.answers.push(reply.answer);
    if (pending.expected.size === 0) pending.done();
  }
}

function parse<T>(frame: string): T | undefined {
  try {
    return JSON.parse(frame) as T;
  } catch {
    return undefined;
  }
}
