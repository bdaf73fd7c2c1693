import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { TrustedProxies } from '../admission/client-address.js';

/**
 * What the console needs to know of an HTTP request (or a WebSocket upgrade): who sent it
 * (behind trusted proxies, the client they name), whether it came over TLS, whether a browser's
 * `Origin` is the console's own.
 */
export class ConsoleRequest {
  constructor(
    private readonly req: IncomingMessage,
    private readonly proxies: TrustedProxies | undefined,
  ) {}

  get headers(): { cookie?: string; authorization?: string } {
    return this.req.headers;
  }

  private get fromProxy(): boolean {
    const peer = this.req.socket.remoteAddress;
    return peer !== undefined && this.proxies?.trusts(peer) === true;
  }

  /** The client's address, for the login throttle and the audit log. */
  get address(): string {
    const peer = this.req.socket.remoteAddress ?? 'unknown';
    return this.proxies
      ? this.proxies.clientAddress(peer, this.req.headers['x-forwarded-for'])
      : peer;
  }

  /** Over TLS: directly, or as a trusted proxy says with `X-Forwarded-Proto`. */
  get secure(): boolean {
    if ((this.req.socket as Partial<TLSSocket>).encrypted === true) return true;
    const proto = this.req.headers['x-forwarded-proto'];
    return (
      this.fromProxy &&
      typeof proto === 'string' &&
      proto.split(',')[0].trim().toLowerCase() === 'https'
    );
  }

  /**
   * Whether a browser's request comes from the console's own page: no `Origin` (not a
   * cross-site browser request), or one whose host is the request's (behind a trusted proxy,
   * the host it forwarded).
   */
  get sameOrigin(): boolean {
    const origin = this.req.headers.origin;
    if (origin === undefined) return true;
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      return false;
    }
    const forwarded = this.req.headers['x-forwarded-host'];
    const expected =
      this.fromProxy && typeof forwarded === 'string'
        ? forwarded.split(',')[0].trim()
        : this.req.headers.host;
    return expected !== undefined && host === expected.toLowerCase();
  }
}
