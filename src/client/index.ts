// The client's public API: `import { GatewayClient } from 'nest-ws-gateway/client'`. Nothing here
// imports Nest or Node built-ins, so it bundles for a browser; `ws` is loaded only in Node.
export {
  GatewayClient,
  type ClientClock,
  type ClientState,
  type CloseInfo,
  type GatewayClientOptions,
  type HistoryOptions,
  type LifecycleEvents,
  type PushEvents,
  type PushHandler,
  type ReconnectOptions,
  type RequestOptions,
  type RoomRecovery,
  type WebSocketConstructor,
  type WebSocketLike,
} from './gateway-client.js';
export {
  ConnectionClosedError,
  GatewayClientError,
  HandshakeRefusedError,
  QueueFullError,
  RequestError,
  RequestTimeoutError,
} from './errors.js';
export {
  BACKOFF_DEFAULTS,
  backoffDelay,
  type BackoffOptions,
} from './backoff.js';
export {
  CloseCode,
  ErrorCode,
  type BroadcastPush,
  type BroadcastReceipt,
  type ErrorDetail,
  type ErrorPayload,
  type Frame,
  type HistoryReply,
  type JoinReply,
  type PublishReceipt,
  type RequestId,
  type ResumeReply,
  type ResumeResult,
  type RoomMessage,
  type RoomMessagePush,
  type StreamPosition,
} from '../protocol/index.js';
