import type { NestApplicationOptions } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import {
  createServer as createHttpServer,
  type ServerOptions,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';

/** Limits on the HTTP phase of every connection, WebSocket upgrades included. */
export interface HttpTimeouts {
  /** Time to receive the request headers, then the whole request; then 408 and close. */
  handshakeTimeoutMs: number;
}

/**
 * Nest's Express adapter with a server that does not wait forever for slow clients
 * (slowloris): Node answers 408 and closes a connection whose request headers, or whole request,
 * take longer than `handshakeTimeoutMs`. Node checks pending requests on an interval fixed when
 * the server is created (30 s by default), which is why the server is built here rather than
 * adjusted after the fact. An upgraded WebSocket leaves the HTTP server's bookkeeping, so these
 * limits never touch an open connection.
 */
export class HardenedExpressAdapter extends ExpressAdapter {
  constructor(private readonly timeouts: HttpTimeouts) {
    super();
  }

  override initHttpServer(options: NestApplicationOptions): void {
    const limit = this.timeouts.handshakeTimeoutMs;
    const serverOptions: ServerOptions = {
      headersTimeout: limit,
      requestTimeout: limit,
      connectionsCheckingInterval: Math.max(
        250,
        Math.min(1_000, Math.floor(limit / 4)),
      ),
    };
    const server = options?.httpsOptions
      ? createHttpsServer(
          { ...options.httpsOptions, ...serverOptions },
          this.getInstance(),
        )
      : createHttpServer(serverOptions, this.getInstance());
    this.setHttpServer(server);
  }
}
