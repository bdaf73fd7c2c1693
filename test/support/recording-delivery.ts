// Test helpers for the unit specs: never exported from src/index.ts, never used by the app.
import type { LocalDelivery } from '../../src/gateway/connections/local-delivery.js';
import type { ConnectionInfo } from '../../src/gateway/connections/connection.js';

/**
 * A fake of {@link LocalDelivery} for unit specs: the connections of one instance, as ids, and
 * every frame each one was sent. Connections come and go with {@link connect} and
 * {@link disconnect}, as the connection registry's entries do.
 */
export class RecordingDelivery implements LocalDelivery {
  /** Frames sent to each connected id, in order. */
  readonly sent = new Map<string, string[]>();
  /** Every `sendToAll` call, in order. */
  readonly calls: { frame: string; exceptId?: string }[] = [];
  /** Every `close` call for a connection that was here, in order. */
  readonly closed: { id: string; code: number; reason: string }[] = [];
  /** Every `sendToEach` call, in order (the ids as they were at the time of the call). */
  readonly eachCalls: { ids: string[]; frame: string; exceptId?: string }[] =
    [];
  private readonly infos = new Map<string, ConnectionInfo>();

  constructor(ids: Iterable<string> = []) {
    for (const id of ids) this.connect(id);
  }

  /** Adds a connection; returns its info (the same object `info(id)` returns afterwards). */
  connect(id: string, subject = `user-of-${id}`): ConnectionInfo {
    const info: ConnectionInfo = {
      id,
      principal: { subject, scopes: [] },
      remoteAddress: '127.0.0.1',
      openedAt: 0,
    };
    this.infos.set(id, info);
    this.sent.set(id, []);
    return info;
  }

  /** Removes a connection, as the registry does after the `disconnected` event. */
  disconnect(id: string): void {
    this.infos.delete(id);
    this.sent.delete(id);
  }

  info(connectionId: string): ConnectionInfo | undefined {
    return this.infos.get(connectionId);
  }

  sendToAll(frame: string, exceptId?: string): number {
    this.calls.push({ frame, exceptId });
    let n = 0;
    for (const [id, frames] of this.sent) {
      if (id === exceptId) continue;
      frames.push(frame);
      n++;
    }
    return n;
  }

  sendToEach(
    connectionIds: Iterable<string>,
    frame: string,
    exceptId?: string,
  ): number {
    const ids = [...connectionIds];
    this.eachCalls.push({ ids, frame, exceptId });
    let n = 0;
    for (const id of ids) {
      if (id !== exceptId && this.sendTo(id, frame)) n++;
    }
    return n;
  }

  replay(connectionId: string, frames: readonly string[]): number {
    let n = 0;
    for (const frame of frames) if (this.sendTo(connectionId, frame)) n++;
    return n;
  }

  sendTo(connectionId: string, frame: string): boolean {
    const frames = this.sent.get(connectionId);
    frames?.push(frame);
    return frames !== undefined;
  }

  /**
   * Records the close; the connection stays until {@link disconnect}, as a registry entry stays
   * until its socket's `close` event.
   */
  close(connectionId: string, code: number, reason: string): boolean {
    if (!this.infos.has(connectionId)) return false;
    this.closed.push({ id: connectionId, code, reason });
    return true;
  }

  /** The frames a connection was sent, parsed. */
  framesOf(id: string): unknown[] {
    return (this.sent.get(id) ?? []).map((f) => JSON.parse(f) as unknown);
  }

  /** Forgets every frame and call recorded so far; the connections stay. */
  clear(): void {
    for (const frames of this.sent.values()) frames.length = 0;
    this.calls.length = 0;
    this.eachCalls.length = 0;
    this.closed.length = 0;
  }
}
