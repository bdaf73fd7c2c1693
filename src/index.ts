// The library's public API: what a host application imports. Anything not exported here may
// change without notice.

// Wiring: the module with its options, and the adapter main.ts installs.
export { GatewayModule } from './gateway/gateway.module.js';
export type { GatewayModuleExtras } from './gateway/gateway.module-definition.js';
export {
  GATEWAY_DEFAULTS,
  GatewayOptionsError,
  resolveGatewayOptions,
  type GatewayAuthOptions,
  type GatewayHistoryOptions,
  type GatewayJwtOptions,
  type GatewayOptions,
  type GatewayPresenceOptions,
  type GatewayRateLimitOptions,
  type GatewayRedisOptions,
  type GatewayRoomAclOptions,
  type ResolvedGatewayOptions,
} from './gateway/gateway.options.js';
export type { GatewayConsoleOptions } from './gateway/console/console-options.js';
export type { ConsoleRole, ErrorEntry } from './protocol/console.js';
export { ErrorJournal } from './gateway/connections/error-journal.js';
export {
  ApiEvent,
  ApiPush,
  type ApiEventOptions,
  type ApiPushOptions,
} from './gateway/contract/api-event.decorator.js';
export {
  ANY_JSON,
  schemaRef,
  type JsonSchema,
  type SchemaSource,
} from './gateway/contract/json-schema.js';
export {
  AsyncApiDocumentBuilder,
  type AsyncApiDocument,
} from './gateway/contract/asyncapi-document.js';
export {
  eventMapSource,
  type EventMapSourceOptions,
} from './gateway/contract/event-map-source.js';
export { contractPage } from './gateway/contract/contract-page.js';
export {
  writeContract,
  type ContractOutputs,
} from './gateway/contract/write-contract.js';
export { GATEWAY_OPTIONS } from './gateway/gateway-options.token.js';
export {
  GatewayAdapter,
  type GatewayAdapterOptions,
} from './gateway/gateway.adapter.js';
export type {
  ConnectionLineSink,
  ConnectionLogger,
} from './gateway/connections/connection-log.js';

// Writing handlers: who is calling, what they may do, and how to fail.
export { Gateway } from './gateway/dispatch/gateway.decorator.js';
export { UndeclaredGatewayError } from './gateway/dispatch/gateway-declaration.js';
export { WsAuthGuard } from './gateway/auth/ws-auth.guard.js';
export {
  REQUIRED_SCOPES,
  RequireScopes,
} from './gateway/auth/require-scopes.decorator.js';
export type { Principal } from './gateway/auth/principal.js';
export {
  CurrentConnection,
  CurrentPrincipal,
} from './gateway/dispatch/connection.decorators.js';
export type { ConnectionInfo } from './gateway/connections/connection.js';
export {
  CloseCode,
  ErrorCode,
  GatewayError,
  type BroadcastReceipt,
  type Envelope,
  type PublishReceipt,
  type ErrorDetail,
  type HistoryReply,
  type JoinReply,
  type PresenceMember,
  type PresencePush,
  type PresenceReply,
  type RequestId,
  type ResumeReply,
  type ResumeResult,
  type StreamPosition,
} from './protocol/index.js';
export { GatewayExceptionFilter } from './gateway/dispatch/gateway-exception.filter.js';
export { GatewayValidationPipe } from './gateway/dispatch/gateway-validation.pipe.js';

// Services to inject anywhere in the host (HTTP controllers included).
export { EchoService } from './gateway/echo/echo.service.js';
export {
  BroadcastService,
  type Broadcast,
} from './gateway/broadcast/broadcast.service.js';
export {
  BROADCAST_CHANNEL,
  CHANNEL_PREFIX_SEPARATOR,
  ChannelPrefixError,
} from './gateway/bus/channels.js';
export {
  RoomsService,
  type RoomMessage,
} from './gateway/rooms/rooms.service.js';
export {
  RecoveryService,
  type ResumeEntry,
} from './gateway/rooms/recovery.service.js';
export {
  RoomHistory,
  type HistoryPage,
  type Recovery,
} from './gateway/history/room-history.js';
export { PresenceService } from './gateway/presence/presence.service.js';
export { ROOM_NAME_PATTERN } from './gateway/rooms/room-name.js';
export { RoomAccess } from './gateway/rooms/room-access.js';
export {
  GatewayEvents,
  type CloseInfo,
  type GatewayEventMap,
} from './gateway/connections/gateway-events.js';
export { GatewayMetrics } from './gateway/telemetry/gateway-metrics.js';

// Seams: token verification, the message bus and room permissions, with the implementations
// that ship.
export {
  TOKEN_VERIFIER,
  type TokenVerifier,
} from './gateway/auth/token-verifier.js';
export { StaticTokenVerifier } from './gateway/auth/static-token.verifier.js';
export { JwtVerifier, type JwtAlgorithm } from './gateway/auth/jwt.verifier.js';
export { JwksUnavailableError } from './gateway/auth/jwks-key-source.js';
export { CompositeVerifier } from './gateway/auth/composite.verifier.js';
export {
  MESSAGE_BUS,
  type BusListener,
  type BusMessage,
  type MessageBus,
} from './gateway/bus/message-bus.js';
export {
  InMemoryHub,
  InMemoryMessageBus,
} from './gateway/bus/in-memory-message-bus.js';
export {
  RedisMessageBus,
  type RedisBusOptions,
} from './gateway/bus/redis-message-bus.js';
export {
  ALLOW_ALL_ROOMS,
  ROOM_ACTIONS,
  ROOM_POLICY,
  type RoomAction,
  type RoomPolicy,
} from './gateway/rooms/room-policy.js';
export { GrantRoomPolicy } from './gateway/rooms/grant-room-policy.js';
export {
  HISTORY_STORE,
  type AppendRequest,
  type Appended,
  type HistoryStore,
  type ReadRequest,
  type ReadResult,
  type Retention,
  type StoredMessage,
} from './gateway/history/history-store.js';
export { InMemoryHistoryStore } from './gateway/history/in-memory-history-store.js';
export {
  PRESENCE_STORE,
  type PresenceChange,
  type PresenceSnapshot,
  type PresenceStore,
} from './gateway/presence/presence-store.js';
export { InMemoryPresenceStore } from './gateway/presence/in-memory-presence-store.js';
export { RedisPresenceStore } from './gateway/presence/redis-presence-store.js';
export { RedisHistoryStore } from './gateway/history/redis-history-store.js';
