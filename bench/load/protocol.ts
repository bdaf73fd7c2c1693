/**
 * What the orchestrator and its load workers say to each other over the IPC channel. Every
 * command carries an id; the worker answers it once, with `done` or `failed`. Instants are µs of
 * the shared monotonic clock (support/clock.ts), so "the measuring window" is the same interval in
 * every worker.
 */
import type { HistogramData } from '../support/histogram.js';

export interface ConnectCommand {
  type: 'connect';
  url: string;
  token: string;
  /** One token per socket instead of `token` (distinct principals): socket i uses tokens[i]. */
  tokens?: string[];
  count: number;
  /** Client sockets bind to these, round robin (127.0.0.2 and up). */
  localAddresses: string[];
  /** A label for these sockets: receive results are reported per group. */
  group: string;
  /** Handshakes in progress at once. */
  concurrency: number;
  handshakeTimeoutMs: number;
}

export interface EchoCommand {
  type: 'echo';
  /** Requests in flight per connection. */
  inFlight: number;
  startUs: number;
  endUs: number;
  /** How long to wait for the replies still due after the window. */
  drainMs: number;
}

/**
 * Which pushes a receiver counts: `broadcast` pushes, a room's `message` pushes, or `presence`
 * diffs (counted, no latency: they carry no timestamp).
 */
export type PushKind = 'broadcast' | 'message' | 'presence';

export interface ReceiveCommand {
  type: 'receive';
  /** Default `broadcast`. */
  push?: PushKind;
  startUs: number;
  endUs: number;
  /**
   * Deliveries arriving in [startUs, endUs) are counted with their latency; those arriving after
   * endUs but before this instant are the backlog ("late").
   */
  untilUs: number;
}

export interface PublishCommand {
  type: 'publish';
  /** Broadcasts per second, from the first socket of this worker. */
  rate: number;
  /** `publish` to this room instead of `broadcast`. */
  room?: string;
  /** Publishing stops at this instant. */
  endUs: number;
}

export interface HandshakeCommand {
  type: 'handshake';
  url: string;
  token: string;
  localAddresses: string[];
  /** Connect-open-close cycles in progress at once. */
  concurrency: number;
  startUs: number;
  endUs: number;
  handshakeTimeoutMs: number;
}

/**
 * Every socket of this worker sends `join` for `room` (`concurrency` joins awaiting their reply
 * at once) and waits for the reply.
 */
export interface JoinCommand {
  type: 'join';
  room: string;
  /** `join` with `"presence":true`: the socket receives the room's presence diffs. */
  presence?: boolean;
  concurrency: number;
  timeoutMs: number;
}

/**
 * Closed-loop publishing: each socket of this worker keeps `inFlight` `publish` requests to
 * `room` outstanding (`{"t":<µs>,"s":<n>}`, as the fixed-rate publisher sends), sending the next
 * one as each acknowledgement comes. Latency is send to acknowledgement.
 */
export interface PublishLoopCommand {
  type: 'publishLoop';
  room: string;
  inFlight: number;
  startUs: number;
  endUs: number;
  drainMs: number;
}

/**
 * Closed-loop membership changes: every socket of this worker sends `join` for `room`, then
 * `leave` at its reply, then `join` again at that one, ... A cycle (join and leave, two member
 * changes when each socket is a principal of its own) counts when its leave reply arrives in the
 * window; latency is join sent to leave reply.
 */
export interface JoinLeaveCommand {
  type: 'joinLeave';
  room: string;
  startUs: number;
  endUs: number;
  drainMs: number;
}

/**
 * Closed-loop `presence` requests for `room` (`countOnly` or the full list) from every socket of
 * this worker, `inFlight` outstanding on each. Latency is send to reply.
 */
export interface PresenceLoopCommand {
  type: 'presenceLoop';
  room: string;
  countOnly: boolean;
  inFlight: number;
  startUs: number;
  endUs: number;
  drainMs: number;
}

/**
 * Fills rooms' history: the sockets of this worker publish `perRoom` messages to each room,
 * round robin over the rooms, `inFlight` outstanding per socket, each message's data a string
 * of `payloadBytes` ASCII characters (unique per message). Resolves when all are acknowledged.
 */
export interface FillCommand {
  type: 'fill';
  rooms: string[];
  perRoom: number;
  payloadBytes: number;
  inFlight: number;
  timeoutMs: number;
}

/** Requests sent one after the other from the first socket of this worker; their replies. */
export interface RequestsCommand {
  type: 'requests';
  requests: Array<{ event: string; data?: unknown }>;
  timeoutMs: number;
}

/**
 * Reconnect to caught up, `warmupRounds + rounds` times, on one room: a publisher socket (a
 * member of the room, which keeps the room alive) and a client that joins and notes its
 * position. Each round the client closes; the publisher publishes `missed` messages (all
 * acknowledged); the client opens a new socket and sends `join` with `since` its position; it is
 * caught up when it holds the join reply (`recovered:true`), which comes after the `missed`
 * pushes, all checked (offsets since+1 .. since+missed, in order).
 */
export interface ReconnectCommand {
  type: 'reconnect';
  url: string;
  token: string;
  room: string;
  missed: number;
  rounds: number;
  warmupRounds: number;
  timeoutMs: number;
}

export interface CloseAllCommand {
  type: 'closeAll';
  timeoutMs: number;
}

export type Command =
  | ConnectCommand
  | EchoCommand
  | ReceiveCommand
  | PublishCommand
  | HandshakeCommand
  | JoinCommand
  | PublishLoopCommand
  | JoinLeaveCommand
  | PresenceLoopCommand
  | FillCommand
  | RequestsCommand
  | ReconnectCommand
  | CloseAllCommand;

/** CPU this worker used inside the window, and the window's length (µs both). */
export interface CpuSample {
  cpuUs: number;
  windowUs: number;
}

export interface ConnectResult {
  opened: number;
  failed: number;
  firstError?: string;
  ms: number;
}

export interface EchoResult extends CpuSample {
  /** Replies received inside the window. */
  completed: number;
  /** Error frames received (any time). */
  errors: number;
  firstError?: string;
  latency: HistogramData;
  /** Requests never answered within the drain time. */
  unanswered: number;
}

export interface ReceiveResult extends CpuSample {
  /** Per group: deliveries inside the window and their latency. */
  groups: Record<
    string,
    { delivered: number; late: number; latency: HistogramData }
  >;
  /** Frames that were not broadcast pushes. */
  other: number;
  firstOther?: string;
}

export interface PublishResult extends CpuSample {
  published: number;
  acked: number;
  errors: number;
  firstError?: string;
}

export interface HandshakeResult extends CpuSample {
  /** Handshakes completed (socket open) inside the window. */
  opened: number;
  failed: number;
  firstError?: string;
  /** Upgrade request to open. */
  latency: HistogramData;
}

export interface JoinResult {
  joined: number;
  failed: number;
  firstError?: string;
  ms: number;
}

export interface PublishLoopResult extends CpuSample {
  /** Acknowledgements received inside the window. */
  completed: number;
  /** Error frames received (any time). */
  errors: number;
  firstError?: string;
  /** Send to acknowledgement. */
  latency: HistogramData;
  /** Requests never answered within the drain time. */
  unanswered: number;
}

export interface FillResult {
  published: number;
  acked: number;
  errors: number;
  firstError?: string;
  ms: number;
}

export interface RequestsResult {
  replies: Array<{ event: string; data: unknown }>;
}

export interface ReconnectResult {
  /** Measured rounds (warm-up rounds excluded). */
  rounds: number;
  /** From the start of the TCP connect to the join reply. */
  fromConnect: HistogramData;
  /** From the socket's open to the join reply. */
  fromOpen: HistogramData;
  /** From the start of the TCP connect to open. */
  toOpen: HistogramData;
}

export interface CloseAllResult {
  closed: number;
  terminated: number;
  ms: number;
}

export interface ResultOf {
  connect: ConnectResult;
  echo: EchoResult;
  receive: ReceiveResult;
  publish: PublishResult;
  handshake: HandshakeResult;
  join: JoinResult;
  publishLoop: PublishLoopResult;
  joinLeave: PublishLoopResult;
  presenceLoop: PublishLoopResult;
  fill: FillResult;
  requests: RequestsResult;
  reconnect: ReconnectResult;
  closeAll: CloseAllResult;
}

export type Request = Command & { id: number };

export type Reply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: string };
