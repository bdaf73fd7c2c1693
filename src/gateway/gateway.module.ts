import {
  Global,
  Inject,
  Logger,
  Module,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { APP_GUARD, DiscoveryModule } from '@nestjs/core';
import { AnonymousVerifier } from './auth/anonymous.verifier.js';
import { CompositeVerifier } from './auth/composite.verifier.js';
import { HandshakeAuthenticator } from './admission/handshake-authenticator.js';
import { JwtVerifier } from './auth/jwt.verifier.js';
import { StaticTokenVerifier } from './auth/static-token.verifier.js';
import { TokenExpiryWatch } from './auth/token-expiry.watch.js';
import { TOKEN_VERIFIER, type TokenVerifier } from './auth/token-verifier.js';
import { WsAuthGuard } from './auth/ws-auth.guard.js';
import { BroadcastService } from './broadcast/broadcast.service.js';
import { InMemoryMessageBus } from './bus/in-memory-message-bus.js';
import { LOCAL_DELIVERY } from './connections/local-delivery.js';
import {
  CONFIGURED_BUS,
  MESSAGE_BUS,
  type MessageBus,
} from './bus/message-bus.js';
import { RedisMessageBus } from './bus/redis-message-bus.js';
import { EchoService } from './echo/echo.service.js';
import {
  ConfigurableGatewayModule,
  GATEWAY_MODULE_OPTIONS,
} from './gateway.module-definition.js';
import { GATEWAY_OPTIONS } from './gateway-options.token.js';
import {
  resolveGatewayOptions,
  type GatewayOptions,
  type ResolvedGatewayOptions,
} from './gateway.options.js';
import { INSTANCE_ID, newInstanceId } from './instance-id.js';
import { DrainState } from './connections/drain-state.js';
import { GatewayEvents } from './connections/gateway-events.js';
import { ConnectionRegistry } from './connections/connection-registry.js';
import { MessageDispatcher } from './dispatch/message-dispatcher.js';
import { UpgradeAdmission } from './admission/upgrade-admission.js';
import { GatewayServer } from './gateway.server.js';
import { HandshakeGate } from './admission/handshake-gate.js';
import { GrantRoomPolicy } from './rooms/grant-room-policy.js';
import { RoomAccess } from './rooms/room-access.js';
import {
  ALLOW_ALL_ROOMS,
  ROOM_POLICY,
  type RoomPolicy,
} from './rooms/room-policy.js';
import { RoomsService } from './rooms/rooms.service.js';
import { RecoveryService } from './rooms/recovery.service.js';
import { HISTORY_STORE, type HistoryStore } from './history/history-store.js';
import { InMemoryHistoryStore } from './history/in-memory-history-store.js';
import { RedisHistoryStore } from './history/redis-history-store.js';
import { RoomHistory } from './history/room-history.js';
import {
  PRESENCE_STORE,
  type PresenceStore,
} from './presence/presence-store.js';
import { InMemoryPresenceStore } from './presence/in-memory-presence-store.js';
import { RedisPresenceStore } from './presence/redis-presence-store.js';
import { PresenceService } from './presence/presence.service.js';
import { GatewayMetrics } from './telemetry/gateway-metrics.js';
import {
  BusCounts,
  InstrumentedMessageBus,
} from './telemetry/instrumented-message-bus.js';
import { TrafficStats } from './connections/traffic-stats.js';
import { ConsoleAccess } from './console/console-access.js';
import { ConsoleActions } from './console/console-actions.js';
import { ConsoleCluster } from './console/console-cluster.js';
import { ConsoleSocket } from './console/console-socket.js';
import { ConsoleController } from './console/console.controller.js';
import { LocalConsole } from './console/local-console.js';
import { AsyncApiController } from './contract/asyncapi.controller.js';
import { AsyncApiDocumentBuilder } from './contract/asyncapi-document.js';
import { ErrorJournal } from './connections/error-journal.js';

/**
 * The WebSocket gateway as a Nest module: `GatewayModule.forRoot(options)` or
 * `GatewayModule.forRootAsync({ imports, inject, useFactory })`, with `standardEvents: false`
 * next to them to serve only the host's own events. Pair it with
 * `app.useWebSocketAdapter(new GatewayAdapter(app))` in `main.ts`.
 *
 * Global: there is one gateway per application, and its services (broadcast, rooms, lifecycle
 * events) are meant to be injected anywhere in the host, HTTP controllers included.
 */
@Global()
@Module({
  imports: [DiscoveryModule],
  // Always declared (options may come asynchronously); every route is a 404 while it is off.
  controllers: [ConsoleController, AsyncApiController],
  providers: [
    {
      provide: GATEWAY_OPTIONS,
      useFactory: (options: GatewayOptions) => resolveGatewayOptions(options),
      inject: [GATEWAY_MODULE_OPTIONS],
    },
    { provide: INSTANCE_ID, useFactory: newInstanceId },
    {
      provide: TOKEN_VERIFIER,
      useFactory: ({ auth }: ResolvedGatewayOptions): TokenVerifier => {
        if (auth.disabled) return new AnonymousVerifier();
        const other =
          auth.verifier ?? (auth.jwt ? new JwtVerifier(auth.jwt) : undefined);
        if (!other) return new StaticTokenVerifier(auth.tokens);
        // Static tokens first: a digest lookup is cheaper than a signature check.
        return auth.tokens.length > 0
          ? new CompositeVerifier([new StaticTokenVerifier(auth.tokens), other])
          : other;
      },
      inject: [GATEWAY_OPTIONS],
    },
    BusCounts,
    {
      provide: CONFIGURED_BUS,
      useFactory: (
        options: ResolvedGatewayOptions,
        instanceId: string,
        counts: BusCounts,
      ): MessageBus =>
        options.bus ??
        (options.redis
          ? new RedisMessageBus({
              ...options.redis,
              instanceId,
              onMalformed: () => {
                counts.malformed++;
              },
            })
          : new InMemoryMessageBus()),
      inject: [GATEWAY_OPTIONS, INSTANCE_ID, BusCounts],
    },
    {
      // Every bus, the host's own included, is measured the same way: nothing reaches it unwrapped.
      provide: MESSAGE_BUS,
      useFactory: (bus: MessageBus, counts: BusCounts): MessageBus =>
        new InstrumentedMessageBus(bus, counts),
      inject: [CONFIGURED_BUS, BusCounts],
    },
    {
      // With Redis, the store publishes each room message itself, in the script that appends
      // it; in memory, it publishes through the bus in the same tick.
      provide: HISTORY_STORE,
      useFactory: (
        options: ResolvedGatewayOptions,
        instanceId: string,
        bus: MessageBus,
      ): HistoryStore =>
        options.history.store ??
        (options.redis && !options.bus
          ? new RedisHistoryStore({ ...options.redis, instanceId })
          : new InMemoryHistoryStore(bus, {
              memoryBytes: options.history.memoryBytes,
            })),
      inject: [GATEWAY_OPTIONS, INSTANCE_ID, MESSAGE_BUS],
    },
    RoomHistory,
    {
      provide: PRESENCE_STORE,
      useFactory: (
        options: ResolvedGatewayOptions,
        instanceId: string,
      ): PresenceStore =>
        options.presence.store ??
        (options.redis && !options.bus
          ? new RedisPresenceStore({
              ...options.redis,
              instanceId,
              ttlMs: options.presence.ttlMs,
            })
          : new InMemoryPresenceStore(instanceId)),
      inject: [GATEWAY_OPTIONS, INSTANCE_ID],
    },
    PresenceService,
    {
      provide: ROOM_POLICY,
      useFactory: ({
        roomPolicy,
        roomAcl,
      }: ResolvedGatewayOptions): RoomPolicy =>
        roomPolicy ??
        (roomAcl ? new GrantRoomPolicy(roomAcl) : ALLOW_ALL_ROOMS),
      inject: [GATEWAY_OPTIONS],
    },
    ConnectionRegistry,
    { provide: LOCAL_DELIVERY, useExisting: ConnectionRegistry },
    HandshakeAuthenticator,
    HandshakeGate,
    UpgradeAdmission,
    MessageDispatcher,
    GatewayServer,
    WsAuthGuard,
    // Global: Nest applies global guards to gateways (before their own guards), so every
    // gateway class is authenticated whatever its decorators; the guard lets HTTP requests by.
    { provide: APP_GUARD, useExisting: WsAuthGuard },
    TokenExpiryWatch,
    GatewayEvents,
    DrainState,
    TrafficStats,
    ErrorJournal,
    GatewayMetrics,
    EchoService,
    BroadcastService,
    RoomsService,
    RecoveryService,
    RoomAccess,
    ConsoleAccess,
    LocalConsole,
    ConsoleCluster,
    ConsoleActions,
    ConsoleSocket,
    AsyncApiDocumentBuilder,
  ],
  exports: [
    GATEWAY_OPTIONS,
    INSTANCE_ID,
    TOKEN_VERIFIER,
    MESSAGE_BUS,
    ROOM_POLICY,
    LOCAL_DELIVERY,
    ConnectionRegistry,
    HandshakeAuthenticator,
    GatewayEvents,
    DrainState,
    GatewayMetrics,
    ErrorJournal,
    GatewayServer,
    EchoService,
    BroadcastService,
    RoomsService,
    RecoveryService,
    RoomHistory,
    HISTORY_STORE,
    PresenceService,
    PRESENCE_STORE,
    RoomAccess,
    AsyncApiDocumentBuilder,
  ],
})
export class GatewayModule
  extends ConfigurableGatewayModule
  implements OnApplicationBootstrap, OnModuleDestroy
{
  private readonly logger = new Logger('Gateway');

  constructor(
    @Inject(GATEWAY_OPTIONS) private readonly options: ResolvedGatewayOptions,
    @Inject(TOKEN_VERIFIER) private readonly verifier: TokenVerifier,
    private readonly drain: DrainState,
  ) {
    super();
  }

  onApplicationBootstrap(): void {
    if (this.options.console)
      this.logger.log(
        `web console on at /console (${this.options.console.credentials.length} login(s)${this.options.console.jwtRoleClaim ? `, JWTs with the ${this.options.console.jwtRoleClaim} claim` : ''})`,
      );
    if (this.options.auth.disabled) {
      this.logger.warn(
        'authentication is DISABLED: every handshake is accepted without a token',
      );
    } else if (
      this.verifier instanceof StaticTokenVerifier &&
      this.verifier.size === 0
    ) {
      this.logger.warn(
        'no tokens configured: every handshake will be refused with 401',
      );
    }
    const { history } = this.options;
    if (this.options.bus && !history.store && history.size > 0) {
      this.logger.warn(
        'room history is kept per instance: with a bus of your own, give history.store so that instances number room messages together',
      );
    }
    const acl = this.options.roomAcl;
    if (
      acl &&
      acl.grants.length === 0 &&
      (this.options.auth.disabled ||
        this.verifier instanceof StaticTokenVerifier)
    ) {
      // Static-token and anonymous principals carry no scopes or claims to hold grants.
      this.logger.warn(
        'the room ACL is on with no common grants, and no client can carry grants of its own: every join and publish will be FORBIDDEN',
      );
    }
  }

  /** Shutdown's first phase: readiness turns 503 and upgrades are refused from here on. */
  onModuleDestroy(): void {
    this.drain.begin();
  }
}
