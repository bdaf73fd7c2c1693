// Type-level test of `GatewayClient<M>`: never run, only type-checked (`npm run typecheck`; this
// file is under tsconfig.json's include). Each `@ts-expect-error` must meet an error, so the file
// fails to compile when the typing becomes loose as well as when a correct call stops compiling.
import {
  GatewayClient,
  type BroadcastReceipt,
  type ErrorPayload,
  type HistoryReply,
  type JoinReply,
  type MessagePush,
  type PresencePush,
  type PublishReceipt,
  type StandardEvents,
} from '../../src/client/index.js';

/** A host's own map, as `npm run asyncapi` writes one for its handlers. */
interface ChatEvents {
  requests: {
    'chat.say': { data: { text: string; to?: string }; reply: { id: number } };
    'chat.ping': { data?: undefined; reply: 'pong' };
  };
  pushes: {
    'chat.said': { from: string; text: string };
  };
}

/** Type equality, for the checks where assignability would be too weak. */
type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2
    ? true
    : false;
function expectType<T extends true>(value?: T): T | undefined {
  return value;
}

export async function typedStandardEvents(): Promise<void> {
  const client = new GatewayClient<StandardEvents>({
    url: 'ws://localhost:8765/',
  });

  // Correct calls: each reply has the map's type.
  const receipt = await client.request('publish', { room: 'lobby', data: 1 });
  expectType<Equal<typeof receipt, PublishReceipt>>();
  const offset: number | undefined = receipt.offset;
  await client.request('publish', { room: 'lobby' }, { timeoutMs: 1_000 });
  const joined: JoinReply = await client.request('join', {
    room: 'lobby',
    presence: true,
  });
  const page = await client.request('history', { room: 'lobby', limit: 10 });
  expectType<Equal<typeof page, HistoryReply>>();
  const sent: BroadcastReceipt = await client.request('broadcast', 'hi');
  // `echo` and `broadcast` take optional data: it may be left out.
  const echoed: unknown = await client.request('echo');
  await client.request('broadcast');
  client.send('publish', { room: 'lobby', data: 'no reply' });

  // The typed helpers keep their signatures.
  const viaHelper: PublishReceipt = await client.publish('lobby', 1);
  const viaJoin: JoinReply = await client.join('lobby', { presence: true });

  // @ts-expect-error: a misspelled event.
  await client.request('publsh', { room: 'lobby', data: 1 });
  // @ts-expect-error: a misspelled field of `data`.
  await client.request('publish', { rom: 'lobby', data: 1 });
  // @ts-expect-error: a missing required field (`room`).
  await client.request('publish', { data: 1 });
  // @ts-expect-error: `data` left out where it is required.
  await client.request('join');
  // @ts-expect-error: a field of the wrong type.
  await client.request('publish', { room: 42, data: 1 });
  // @ts-expect-error: the reply used as what it is not.
  const wrongReply: string = await client.request('publish', {
    room: 'lobby',
  });
  // @ts-expect-error: a reply type of one's own is not taken with a typed map.
  await client.request<string>('publish', { room: 'lobby' });
  // @ts-expect-error: a misspelled event in `send` too.
  client.send('publsh', { room: 'lobby' });

  // Pushes: typed by the map's `pushes`, and `error` always.
  client.onPush('message', (data) => {
    expectType<Equal<typeof data, MessagePush>>();
  });
  client.onPush('presence', (data: PresencePush) => data.room);
  client.onPush('error', (data) => {
    expectType<Equal<typeof data, ErrorPayload>>();
  });
  client.onPush('broadcast', ({ from, data }) => [from, data]);
  // @ts-expect-error: a push handler with the wrong payload type.
  client.onPush('message', (data: { room: number }) => data.room);
  // @ts-expect-error: a push the map does not have.
  client.onPush('mesage', () => undefined);

  // Lifecycle events are as before.
  client.on('close', ({ code, willReconnect }) => [code, willReconnect]);

  return void [offset, joined, sent, echoed, viaHelper, viaJoin, wrongReply];
}

export async function typedHostEvents(): Promise<void> {
  const client = new GatewayClient<ChatEvents>({ url: 'ws://localhost/' });
  const said = await client.request('chat.say', { text: 'hi' });
  expectType<Equal<typeof said, { id: number }>>();
  const pong: 'pong' = await client.request('chat.ping');
  client.onPush('chat.said', ({ from, text }) => [from, text]);

  // @ts-expect-error: the standard events are not in this host's map.
  await client.request('echo', 'hi');
  // @ts-expect-error: a field of the wrong type.
  await client.request('chat.say', { text: 1 });
  // @ts-expect-error: a push handler with the wrong payload type.
  client.onPush('chat.said', (data: { from: number }) => data);
  return void pong;
}

export async function untypedAsBefore(): Promise<void> {
  // The default map: any event, `unknown` replies or the type given, the protocol's pushes typed.
  const client = new GatewayClient({ url: 'ws://localhost/' });
  const anything: unknown = await client.request('any.event', { any: 'data' });
  const typed: BroadcastReceipt = await client.request<BroadcastReceipt>(
    'broadcast',
    'hi',
  );
  const text: string = await client.request<string>('echo', 'hi');
  client.onPush('message', ({ room, from, data }) => [room, from, data]);
  client.onPush<{ n: number }>('tick', ({ n }) => n);
  client.onPush('tick', (data) => {
    expectType<Equal<typeof data, unknown>>();
  });
  client.send(`dynamic.${String(anything)}`);
  return void [typed, text];
}
