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

export interface ReceiveCommand {
  type: 'receive';
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
  closeAll: CloseAllResult;
}

export type Request = Command & { id: number };

export type Reply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: string };
