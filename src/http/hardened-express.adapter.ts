import {
  BadRequestException,
  NotFoundException,
  type NestApplicationOptions,
} from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import {
  createServer as createHttpServer,
  type ServerOptions,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';

type NextFn = (err?: unknown) => void;

/** Limits on the HTTP phase of every connection, WebSocket upgrades included. */
export interface HttpTimeouts {
  /** Time to receive the request headers, then the whole request; then 408 and close. */
  handshakeTimeoutMs: number;
}

/**
 * Nest's Express adapter, hardened in what it waits for and what it tells a client.
 *
 * A server that does not wait forever for slow clients (slowloris): Node answers 408 and closes a
 * connection whose request headers, or whole request, take longer than `handshakeTimeoutMs`.
 * Node checks pending requests on an interval fixed when the server is created (30 s by default),
 * which is why the server is built here rather than adjusted after the fact. An upgraded
 * WebSocket leaves the HTTP server's bookkeeping, so these limits never touch an open connection.
 *
 * No `X-Powered-By: Express`, and error bodies that never quote the request's URL: Nest's 404
 * says `Cannot GET /path?query`, and a browser client's token travels in the query string
 * (`?token=`), from where a body is easily passed on (a client's error report, a proxy's page).
 */
export class HardenedExpressAdapter extends ExpressAdapter {
  constructor(private readonly timeouts: HttpTimeouts) {
    super();
    this.getInstance().disable('x-powered-by');
  }

  /**
   * Answers a request no route matched through Nest's exception layer, as the stock handler
   * does, with a plain `NotFoundException` instead of one whose message holds the URL.
   */
  override setNotFoundHandler(
    _handler: unknown,
    prefix?: string,
    excludedRoutes?: Parameters<ExpressAdapter['setNotFoundHandler']>[2],
  ): unknown {
    const notFound = (_req: unknown, _res: unknown, next: NextFn) =>
      next(new NotFoundException());
    return super.setNotFoundHandler(notFound, prefix, excludedRoutes);
  }

  /**
   * Express's 400 for a path that is not valid percent-encoding, without its message, which
   * quotes the path. Other errors are mapped as Nest maps them.
   */
  override mapException(error: unknown): unknown {
    if (
      error instanceof URIError &&
      (error as URIError & { status?: number }).status === 400
    ) {
      return new BadRequestException(undefined, { cause: error });
    }
    return super.mapException(error);
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
