// The map of the standard events, in the form `npm run asyncapi` generates: the generator
// overwrites this file.
import type {
  BroadcastPush,
  BroadcastReceipt,
  HistoryReply,
  HistoryRequest,
  JoinReply,
  JoinRequest,
  PresencePush,
  PresenceReply,
  PresenceRequest,
  PublishReceipt,
  ResumeReply,
  ResumeRequest,
  RoomMessagePush,
} from '../protocol/frames.js';

/** The `data` of `leave`, and its reply. */
export interface LeaveRequest {
  room: string;
}

/** The `data` of `publish`: the room and the message (absent is sent as `null`). */
export interface PublishRequest {
  room: string;
  data?: unknown;
}

/** The `data` of a `message` push: `offset` in a room with history. */
export interface MessagePush extends RoomMessagePush {
  offset?: number;
}

/**
 * The event map of the gateway's standard events (protocol v1): the shape `npm run asyncapi`
 * generates from the AsyncAPI document, and, until the generator writes this file, the reference
 * for what it generates. A host's own map, generated from its own handlers by the same command,
 * has this form: `requests` (each event's `data` and `reply`) and `pushes` (each push's `data`),
 * both object types written in place; a payload the protocol types is imported from
 * `../protocol/frames.js`, any other is an interface of its own here. `data?` marks a request
 * that may go without data.
 *
 * ```ts
 * const client = new GatewayClient<StandardEvents>({ url });
 * const receipt = await client.request('publish', { room: 'lobby', data: 1 }); // PublishReceipt
 * ```
 */
export interface StandardEvents {
  requests: {
    /** Replies with its `data` as it came. */
    echo: { data?: unknown; reply: unknown };
    /** Any JSON value, pushed to every other client as a `broadcast`. */
    broadcast: { data?: unknown; reply: BroadcastReceipt };
    join: { data: JoinRequest; reply: JoinReply };
    leave: { data: LeaveRequest; reply: LeaveRequest };
    publish: { data: PublishRequest; reply: PublishReceipt };
    resume: { data: ResumeRequest; reply: ResumeReply };
    history: { data: HistoryRequest; reply: HistoryReply };
    presence: { data: PresenceRequest; reply: PresenceReply };
  };
  pushes: {
    broadcast: BroadcastPush;
    message: MessagePush;
    presence: PresencePush;
  };
}
