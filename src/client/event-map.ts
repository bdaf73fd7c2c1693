import type { PushEvents } from './events.js';
import type { ErrorPayload } from '../protocol/index.js';

/**
 * One event a client may send: its payload (`data`; optional, or absent, when the event may go
 * without one) and its reply's `data`.
 */
export interface RequestSpec {
  data?: unknown;
  reply: unknown;
}

/**
 * What a gateway answers and pushes: the type a generated map (`npm run asyncapi`) fills in, and
 * `GatewayClient<M>` takes (see `StandardEvents`). `requests` and `pushes` are object types
 * written in place (`requests: { echo: {...}; ... }`), not named interfaces, which TypeScript
 * does not let stand for an index signature; the payloads inside may be anything. A request
 * whose `data` is optional (`data?: T`, or a type that takes `undefined`) may be sent without one.
 */
export interface EventMap {
  /** Each event a client may send: its payload (`data`) and its reply's `data`. */
  requests: { [event: string]: RequestSpec };
  /** Each push the server sends: its `data`. */
  pushes: { [event: string]: unknown };
}

/**
 * Any event, any payload: the default, for code that names events at run time. Its replies are
 * `unknown` (or the type given as `request<T>()`), and the protocol's pushes keep their types.
 */
export interface AnyEvents extends EventMap {
  requests: { [event: string]: RequestSpec };
  pushes: PushEvents & { [event: string]: unknown };
}

/** The events a map lets a client send (`string` for {@link AnyEvents}). */
export type RequestName<M extends EventMap> = keyof M['requests'] & string;

/** The request `data` of an event. */
export type RequestData<
  M extends EventMap,
  K extends RequestName<M>,
> = M['requests'][K]['data'];

/** The reply `data` of an event. */
export type ReplyData<
  M extends EventMap,
  K extends RequestName<M>,
> = M['requests'][K]['reply'];

/**
 * The pushes a client of a map may listen to: the map's, and `error` (an error frame without an
 * id, which every gateway may send).
 */
export type PushName<M extends EventMap> =
  (keyof M['pushes'] & string) | 'error';

/** The `data` of a push: the map's type, or the protocol's error payload for `error`. */
export type PushData<
  M extends EventMap,
  K extends string,
> = K extends keyof M['pushes']
  ? M['pushes'][K]
  : K extends 'error'
    ? ErrorPayload
    : never;

/** `string` when the names are any string (an untyped map, {@link AnyEvents}), else `never`. */
export type UntypedName<N extends string> = string extends N ? string : never;

/** The names themselves for a typed map; `never` when they are any string. */
export type TypedName<N extends string> = string extends N ? never : N;

/**
 * The reply type `request<T>()` may be given: any for an untyped map; none for a typed one,
 * whose replies the map types.
 */
export type ExplicitReply<M extends EventMap> =
  string extends RequestName<M> ? unknown : never;

/** What `request()` resolves with: `T` for an untyped map, the map's reply for a typed one. */
export type Reply<M extends EventMap, K extends RequestName<M>, T> =
  string extends RequestName<M> ? T : ReplyData<M, K>;

/** The push type `onPush<T>()` may be given: any for an untyped map, none for a typed one. */
export type ExplicitPush<M extends EventMap> =
  string extends PushName<M> ? unknown : never;

/**
 * The `data` an `onPush` handler gets: the map's type for a typed map; for an untyped one, the
 * protocol's type for its pushes (`message`, ...), else `T`.
 */
export type PushArg<M extends EventMap, K extends PushName<M>, T> =
  string extends PushName<M>
    ? string extends K
      ? T
      : K extends keyof PushEvents
        ? PushData<M, K>
        : T
    : PushData<M, K>;
