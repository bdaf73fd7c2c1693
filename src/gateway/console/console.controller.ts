import {
  Body,
  Controller,
  Get,
  Header,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  Post,
  Query,
  Req,
  Res,
  UseFilters,
} from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type {
  BroadcastAnswer,
  ConnectionsAnswer,
  DisconnectAnswer,
  ErrorsAnswer,
  InstancesAnswer,
  LoginAnswer,
  PublishAnswer,
  RoomsAnswer,
  SendAnswer,
  SessionAnswer,
} from '../../protocol/console.js';
import { GatewayError } from '../../protocol/gateway-error.js';
import { GATEWAY_OPTIONS } from '../gateway-options.token.js';
import type { ResolvedGatewayOptions } from '../gateway.options.js';
import {
  ConsoleAccess,
  CSRF_HEADER,
  SESSION_COOKIE,
  type ConsoleUser,
} from './console-access.js';
import { ConsoleActions, type Actor } from './console-actions.js';
import { ConsoleAssets, type Asset } from './console-assets.js';
import { ConsoleCluster } from './console-cluster.js';
import { ConsoleHttpErrorFilter } from './console-http-error.filter.js';
import { ConsoleRequest } from './console-request.js';

/** Rows a list answers with when the query does not say. */
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1_000;

/** The page's own rules: its scripts and styles only, talking to its own origin. */
const PAGE_POLICY = [
  "default-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  // uPlot sizes its canvases from script (CSSOM), which style-src does not restrict.
  "style-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

type Body_ = Record<string, unknown> | undefined;

function limitOf(value: string | undefined): number {
  const n = value === undefined ? DEFAULT_LIMIT : Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw GatewayError.badRequest('limit: must be a positive integer');
  return Math.min(n, MAX_LIMIT);
}

function queryOf(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value !== 'string' || value.length > 256)
    throw GatewayError.badRequest('q: must be text of at most 256 characters');
  return value;
}

/**
 * The web console over HTTP: its page and the JSON API behind it (docs/console.md). Every route
 * answers 404 while the console is off. Reads need a session or a bearer credential of either
 * role; actions need the admin role and, with a cookie session, the CSRF token and a same-origin
 * request.
 */
@Controller('console')
@UseFilters(ConsoleHttpErrorFilter)
export class ConsoleController {
  private assets?: ConsoleAssets;

  constructor(
    @Inject(GATEWAY_OPTIONS) private readonly options: ResolvedGatewayOptions,
    private readonly access: ConsoleAccess,
    private readonly cluster: ConsoleCluster,
    private readonly actions: ConsoleActions,
  ) {}

  @Get()
  page(@Res() res: ServerResponse): void {
    const assets = this.loadAssets();
    const index = assets.index;
    if (!index) throw GatewayError.unavailable(assets.missing ?? 'no page');
    res.setHeader('Content-Security-Policy', PAGE_POLICY);
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Referrer-Policy', 'no-referrer');
    send(res, index);
  }

  @Get('assets/:name')
  asset(
    @Param('name') name: string,
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
  ): void {
    const asset = this.loadAssets().asset(name);
    if (!asset) throw new NotFoundException();
    if (req.headers['if-none-match'] === asset.etag) {
      res.statusCode = 304;
      res.end();
      return;
    }
    send(res, asset);
  }

  @Post('api/login')
  @Header('Cache-Control', 'no-store')
  @HttpCode(200)
  async login(
    @Req() req: IncomingMessage,
    @Res({ passthrough: true }) res: ServerResponse,
    @Body() body: Body_,
  ): Promise<LoginAnswer> {
    const request = this.request(req);
    if (!request.sameOrigin)
      throw GatewayError.forbidden('cross-site login refused');
    const login = await this.access.login(body?.token, request.address);
    const maxAge = Math.max(
      0,
      Math.floor((login.expiresAt - Date.now()) / 1000),
    );
    res.setHeader('Set-Cookie', cookie(login.cookie, maxAge, request.secure));
    return {
      user: login.user.name,
      role: login.user.role,
      csrf: login.csrf,
      expiresAt: login.expiresAt,
    };
  }

  @Post('api/logout')
  @Header('Cache-Control', 'no-store')
  @HttpCode(204)
  async logout(
    @Req() req: IncomingMessage,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<void> {
    const request = this.request(req);
    if (!request.sameOrigin)
      throw GatewayError.forbidden('cross-site request refused');
    const user = await this.access.authenticate(
      request.headers,
      request.address,
    );
    // The cookie is signed, not stored: every instance is told to refuse it from now on.
    if (user?.via === 'cookie') await this.cluster.endSession(user);
    res.setHeader('Set-Cookie', cookie('', 0, request.secure));
  }

  @Get('api/session')
  @Header('Cache-Control', 'no-store')
  async session(@Req() req: IncomingMessage): Promise<SessionAnswer> {
    const user = await this.user(req);
    return {
      user: user.name,
      role: user.role,
      csrf: user.session ? this.access.csrfOf(user.session) : undefined,
      expiresAt: user.expiresAt,
    };
  }

  @Get('api/instances')
  @Header('Cache-Control', 'no-store')
  async instances(
    @Req() req: IncomingMessage,
    @Query('series') series?: string,
  ): Promise<InstancesAnswer> {
    await this.user(req);
    return {
      self: this.cluster.instanceId,
      intervalMs: this.cluster.statsIntervalMs,
      instances: this.cluster.instances(),
      series:
        series === '1' || series === 'true' ? this.cluster.series() : undefined,
    };
  }

  @Get('api/rooms')
  @Header('Cache-Control', 'no-store')
  async rooms(
    @Req() req: IncomingMessage,
    @Query('q') q?: unknown,
    @Query('limit') limit?: string,
  ): Promise<RoomsAnswer> {
    await this.user(req);
    const { rows, total, partial } = await this.cluster.rooms(
      queryOf(q),
      limitOf(limit),
    );
    return { rooms: rows, total, partial };
  }

  @Get('api/connections')
  @Header('Cache-Control', 'no-store')
  async connections(
    @Req() req: IncomingMessage,
    @Query('q') q?: unknown,
    @Query('limit') limit?: string,
  ): Promise<ConnectionsAnswer> {
    await this.user(req);
    const { rows, total, partial } = await this.cluster.connections(
      queryOf(q),
      limitOf(limit),
    );
    return { connections: rows, total, partial };
  }

  @Get('api/errors')
  @Header('Cache-Control', 'no-store')
  async errors(
    @Req() req: IncomingMessage,
    @Query('limit') limit?: string,
  ): Promise<ErrorsAnswer> {
    await this.user(req);
    const { rows, partial } = await this.cluster.errors(limitOf(limit));
    return { errors: rows, partial };
  }

  @Post('api/publish')
  @Header('Cache-Control', 'no-store')
  @HttpCode(200)
  async publish(
    @Req() req: IncomingMessage,
    @Body() body: Body_,
  ): Promise<PublishAnswer> {
    const actor = await this.actor(req, 'publish', body?.room);
    return this.actions.publish(actor, body?.room, body?.data);
  }

  @Post('api/broadcast')
  @Header('Cache-Control', 'no-store')
  @HttpCode(200)
  async broadcast(
    @Req() req: IncomingMessage,
    @Body() body: Body_,
  ): Promise<BroadcastAnswer> {
    const actor = await this.actor(req, 'broadcast', '*');
    return this.actions.broadcast(actor, body?.data);
  }

  @Post('api/send')
  @Header('Cache-Control', 'no-store')
  @HttpCode(200)
  async send(
    @Req() req: IncomingMessage,
    @Body() body: Body_,
  ): Promise<SendAnswer> {
    const actor = await this.actor(req, 'send', body?.connectionId);
    return this.actions.send(
      actor,
      body?.connectionId,
      body?.event,
      body?.data,
    );
  }

  @Post('api/disconnect')
  @Header('Cache-Control', 'no-store')
  @HttpCode(200)
  async disconnect(
    @Req() req: IncomingMessage,
    @Body() body: Body_,
  ): Promise<DisconnectAnswer> {
    const actor = await this.actor(req, 'disconnect', body?.connectionId);
    return this.actions.disconnect(
      actor,
      body?.connectionId,
      body?.code,
      body?.reason,
    );
  }

  private request(req: IncomingMessage): ConsoleRequest {
    if (!this.access.enabled) throw new NotFoundException();
    return new ConsoleRequest(req, this.options.trustedProxies);
  }

  /** The request's user, of either role; 401 without one. */
  private async user(req: IncomingMessage): Promise<ConsoleUser> {
    const request = this.request(req);
    const user = await this.access.authenticate(
      request.headers,
      request.address,
    );
    if (!user) throw GatewayError.unauthorized('log in to the console first');
    return user;
  }

  /**
   * The user of an action: a cookie session must come from the console's own page (same
   * origin, and the CSRF token it was given); the role is checked by the action, which audits.
   */
  private async actor(
    req: IncomingMessage,
    action: string,
    target: unknown,
  ): Promise<Actor> {
    const request = this.request(req);
    const user = await this.access.authenticate(
      request.headers,
      request.address,
    );
    if (!user) throw GatewayError.unauthorized('log in to the console first');
    const actor = { user, address: request.address };
    const csrf = req.headers[CSRF_HEADER];
    if (
      user.via === 'cookie' &&
      (!request.sameOrigin ||
        !this.access.csrfValid(
          user,
          typeof csrf === 'string' ? csrf : undefined,
        ))
    ) {
      this.actions.refused(
        actor,
        action,
        typeof target === 'string' ? target : '',
        'cross-site request',
      );
      throw GatewayError.forbidden(
        'cross-site request refused: the CSRF token is missing or wrong',
      );
    }
    return actor;
  }

  private loadAssets(): ConsoleAssets {
    if (!this.access.enabled) throw new NotFoundException();
    // Read at the first visit, not at boot: a host that never opens the console never reads it.
    return (this.assets ??= new ConsoleAssets());
  }
}

function cookie(value: string, maxAgeSec: number, secure: boolean): string {
  return [
    `${SESSION_COOKIE}=${value}`,
    'Path=/console',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${maxAgeSec}`,
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}

function send(res: ServerResponse, asset: Asset): void {
  res.statusCode = 200;
  res.setHeader('Content-Type', asset.type);
  res.setHeader('Content-Length', asset.body.length);
  res.setHeader('ETag', asset.etag);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader(
    'Cache-Control',
    asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
  );
  res.end(asset.body);
}
