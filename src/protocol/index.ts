/**
 * The wire protocol v1, shared by the server and the client: envelopes and frames, error codes,
 * close codes; and the web console's shapes, shared by the server and the console's page. It
 * depends on nothing (no Nest, no `ws`, no Node-only API), so the client loads it in a browser as
 * it is.
 */
export { CloseCode } from './close-codes.js';
export type {
  BroadcastAnswer,
  ConnectionRow,
  ConnectionsAnswer,
  ConsolePushes,
  ConsoleRole,
  DisconnectAnswer,
  ErrorEntry,
  ErrorRow,
  ErrorsAnswer,
  HelloFrame,
  InstanceStats,
  InstancesAnswer,
  InstancesFrame,
  InstanceView,
  LoginAnswer,
  PublishAnswer,
  RoomRow,
  RoomsAnswer,
  SendAnswer,
  Series,
  SeriesPoint,
  SessionAnswer,
  TailFrame,
} from './console.js';
export {
  DEFAULT_MAX_DEPTH,
  InvalidEnvelopeError,
  isEnvelopeText,
  MAX_EVENT_LENGTH,
  MAX_ID_LENGTH,
  nestsDeeperThan,
  parseEnvelope,
  parseFrame,
  type Envelope,
} from './envelope.js';
export { ErrorCode } from './error-codes.js';
export {
  errorFrame,
  plainTextReply,
  replyFrame,
  type BroadcastPush,
  type BroadcastReceipt,
  type ErrorDetail,
  type ErrorPayload,
  type Frame,
  type HistoryReply,
  type HistoryRequest,
  type JoinReply,
  type JoinRequest,
  type PresenceMember,
  type PresencePush,
  type PresenceReply,
  type PresenceRequest,
  type PresenceView,
  type PublishReceipt,
  type RequestId,
  type ResumeFailure,
  type ResumeReply,
  type ResumeRequest,
  type ResumeResult,
  type RoomMessage,
  type RoomMessagePush,
  type StreamPosition,
} from './frames.js';
export { GatewayError } from './gateway-error.js';
