import {
  Body,
  Controller,
  Injectable,
  Module,
  Post,
  type DynamicModule,
  type INestApplication,
  type Type,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { eventually } from './support/eventually.js';
import {
  MessageBody,
  SubscribeMessage,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
} from '@nestjs/websockets';
import { IsString, Length } from 'class-validator';
import type { AddressInfo } from 'node:net';
import {
  BroadcastService,
  CurrentPrincipal,
  Gateway,
  GatewayAdapter,
  GatewayEvents,
  GatewayMetrics,
  GatewayModule,
  InMemoryHub,
  InMemoryMessageBus,
  MESSAGE_BUS,
  RequireScopes,
  RoomsService,
  type BusListener,
  type BusMessage,
  type ConnectionInfo,
  type MessageBus,
  type Principal,
  type RoomAction,
  type RoomPolicy,
  type TokenVerifier,
} from '../src/index.js';
import { sample } from './support/metrics.js';
import {
  connect,
  handshakeStatus,
  type HandshakeRefused,
} from './support/ws-client.js';

/** A host's own store of API keys: what a custom verifier would look up in a database. */
@Injectable()
class ApiKeyStore {
  private readonly keys = new Map([
    ['key-alice', { subject: 'alice', scopes: ['chat'] }],
    ['key-bob', { subject: 'bob', scopes: ['chat', 'moderate'] }],
  ]);
  lookups = 0;

  find(key: string): Principal | null {
    this.lookups++;
    return this.keys.get(key) ?? null;
  }
}

@Module({ providers: [ApiKeyStore], exports: [ApiKeyStore] })
class KeysModule {}

class ApiKeyVerifier implements TokenVerifier {
  constructor(private readonly store: ApiKeyStore) {}
  verify(token: string): Principal | null {
    return this.store.find(token);
  }
}

class SayDto {
  @IsString()
  @Length(1, 200)
  text!: string;
}

/** The host's own gateway, with nothing but Nest's decorators and the library's. */
@Gateway()
class ChatGateway {
  constructor(private readonly rooms: RoomsService) {}

  @SubscribeMessage('chat.say')
  say(@MessageBody() { text }: SayDto, @CurrentPrincipal() who: Principal) {
    return { said: text, by: who.subject };
  }

  @RequireScopes('moderate')
  @SubscribeMessage('chat.mute')
  mute(@CurrentPrincipal() who: Principal) {
    return { mutedBy: who.subject };
  }

  @SubscribeMessage('chat.tell-room')
  tell(
    @MessageBody() { room, text }: { room: string; text: string },
    @CurrentPrincipal() who: Principal,
  ) {
    return this.rooms.publish({ room, from: who.subject, data: text });
  }
}

/** An HTTP endpoint that reaches every socket. */
@Controller('announcements')
class AnnouncementsController {
  constructor(private readonly broadcasts: BroadcastService) {}

  @Post()
  announce(@Body() body: { text: string }) {
    return this.broadcasts.broadcast({ from: 'server', data: body.text });
  }
}

/** Presence kept by the host through the lifecycle hooks. */
@Injectable()
class Presence {
  readonly online = new Set<string>();
  readonly joined: string[] = [];
  constructor(events: GatewayEvents) {
    events.on('connected', (c: ConnectionInfo) =>
      this.online.add(c.principal.subject),
    );
    events.on('disconnected', (c: ConnectionInfo) =>
      this.online.delete(c.principal.subject),
    );
    events.on('joined', (c: ConnectionInfo, room: string) =>
      this.joined.push(`${c.principal.subject}@${room}`),
    );
  }
}

async function startHost(standardEvents: boolean) {
  @Module({
    imports: [
      GatewayModule.forRootAsync({
        imports: [KeysModule],
        inject: [ApiKeyStore],
        useFactory: (store: ApiKeyStore) => ({
          auth: { verifier: new ApiKeyVerifier(store) },
        }),
        standardEvents,
      }),
    ],
    controllers: [AnnouncementsController],
    providers: [ChatGateway, Presence],
  })
  class HostModule {}

  return startModule(HostModule);
}

/** A host app as its main.ts would start it: the module, the gateway's adapter, a free port. */
async function startModule(root: Type<unknown> | DynamicModule) {
  const moduleRef = await Test.createTestingModule({
    imports: [root],
  }).compile();
  const app: INestApplication = moduleRef.createNestApplication({
    logger: false,
  });
  app.useWebSocketAdapter(new GatewayAdapter(app));
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return {
    app,
    wsUrl: `ws://127.0.0.1:${port}/`,
    httpUrl: `http://127.0.0.1:${port}`,
  };
}

describe('GatewayModule in a host application (e2e)', () => {
  let host: Awaited<ReturnType<typeof startHost>>;

  beforeAll(async () => {
    host = await startHost(true);
  });
  afterAll(async () => {
    await host.app.close();
  });

  it('authenticates with the host’s own verifier, built by forRootAsync with injected services', async () => {
    expect(
      (
        (await handshakeStatus(host.wsUrl, {
          token: 'key-nobody',
        })) as HandshakeRefused
      ).status,
    ).toBe(401);
    const alice = await connect(host.wsUrl, { token: 'key-alice' });
    expect(host.app.get(ApiKeyStore).lookups).toBeGreaterThanOrEqual(2);
    expect(await alice.request('chat.say', { text: 'hi' }, 1)).toEqual({
      event: 'chat.say',
      data: { said: 'hi', by: 'alice' },
      id: 1,
    });
    await alice.close();
  });

  it('gives the host gateway validation, error frames and scope checks', async () => {
    const alice = await connect(host.wsUrl, { token: 'key-alice' });
    const bob = await connect(host.wsUrl, { token: 'key-bob' });
    const invalid = await alice.request('chat.say', { text: '' }, 2);
    expect(invalid).toMatchObject({
      event: 'error',
      id: 2,
      data: { code: 'BAD_REQUEST', details: [{ field: 'text' }] },
    });
    expect(await alice.request('chat.mute', null, 3)).toMatchObject({
      event: 'error',
      id: 3,
      data: { code: 'FORBIDDEN' },
    });
    expect(await bob.request('chat.mute', null, 4)).toEqual({
      event: 'chat.mute',
      data: { mutedBy: 'bob' },
      id: 4,
    });
    await Promise.all([alice.close(), bob.close()]);
  });

  it('keeps the standard events next to the host’s', async () => {
    const alice = await connect(host.wsUrl, { token: 'key-alice' });
    expect(await alice.request('echo', 'std', 5)).toEqual({
      event: 'echo',
      data: 'std',
      id: 5,
    });
    await alice.close();
  });

  it('lets an HTTP endpoint broadcast to every socket', async () => {
    const alice = await connect(host.wsUrl, { token: 'key-alice' });
    const bob = await connect(host.wsUrl, { token: 'key-bob' });
    const res = await fetch(`${host.httpUrl}/announcements`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'maintenance at noon' }),
    });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ recipients: 2, instances: 1 });
    for (const c of [alice, bob]) {
      expect(await c.nextJson()).toEqual({
        event: 'broadcast',
        data: { from: 'server', data: 'maintenance at noon' },
      });
    }
    await Promise.all([alice.close(), bob.close()]);
  });

  it('runs the host’s lifecycle hooks and lets its gateway use the rooms service', async () => {
    const presence = host.app.get(Presence);
    const alice = await connect(host.wsUrl, { token: 'key-alice' });
    const bob = await connect(host.wsUrl, { token: 'key-bob' });
    expect([...presence.online].sort()).toEqual(['alice', 'bob']);
    const joined = await bob.request('join', { room: 'general' }, 6);
    expect(presence.joined).toContain('bob@general');
    // The room keeps history: its position, empty so far, then the service's publish is its
    // first message, numbered as any client's would be.
    expect(joined.data).toEqual({
      room: 'general',
      offset: 0,
      epoch: expect.stringMatching(/^[A-Za-z0-9_-]{12}$/) as string,
    });
    const { epoch } = joined.data as { epoch: string };
    const ack = await alice.request(
      'chat.tell-room',
      { room: 'general', text: 'hello room' },
      7,
    );
    expect(ack.data).toEqual({
      room: 'general',
      recipients: 1,
      instances: 1,
      offset: 1,
      epoch,
    });
    expect(await bob.nextJson()).toEqual({
      event: 'message',
      data: { room: 'general', from: 'alice', data: 'hello room', offset: 1 },
    });
    await alice.close();
    await eventually(
      () => !presence.online.has('alice'),
      'alice to go offline',
    );
    expect([...presence.online]).toEqual(['bob']);
    await bob.close();
  });
});

describe('GatewayModule with the standard events turned off (e2e)', () => {
  let host: Awaited<ReturnType<typeof startHost>>;

  beforeAll(async () => {
    host = await startHost(false);
  });
  afterAll(async () => {
    await host.app.close();
  });

  it('answers only the host’s events', async () => {
    const alice = await connect(host.wsUrl, { token: 'key-alice' });
    expect(await alice.request('echo', 'x', 1)).toEqual({
      event: 'error',
      data: { code: 'UNKNOWN_EVENT', message: 'no handler for event "echo"' },
      id: 1,
    });
    expect(
      (await alice.request('chat.say', { text: 'still here' }, 2)).event,
    ).toBe('chat.say');
    await alice.close();
  });
});

describe('GatewayModule with a message bus of the host’s own (e2e)', () => {
  it('fans out through the given bus: two apps sharing one in-memory hub', async () => {
    const hub = new InMemoryHub();
    const start = () =>
      startModule(
        GatewayModule.forRoot({
          auth: { tokens: ['t1'] },
          bus: new InMemoryMessageBus(hub),
        }),
      );
    const [one, two] = [await start(), await start()];
    try {
      const sender = await connect(one.wsUrl, { token: 't1' });
      const receiver = await connect(two.wsUrl, { token: 't1' });
      expect((await sender.request('broadcast', 'across', 1)).data).toEqual({
        recipients: 0,
        instances: 2,
      });
      expect(((await receiver.nextJson()).data as { data: string }).data).toBe(
        'across',
      );
      await Promise.all([sender.close(), receiver.close()]);
    } finally {
      await Promise.all([one.app.close(), two.app.close()]);
    }
  });

  it('measures the host’s bus in the gateway_bus_* counters, and still runs its lifecycle hooks', async () => {
    const broker = new Map<string, Map<HostBus, BusListener>>();
    const buses = [new HostBus(broker), new HostBus(broker)];
    const start = (bus: HostBus) =>
      startModule(GatewayModule.forRoot({ auth: { tokens: ['t1'] }, bus }));
    const [one, two] = [await start(buses[0]), await start(buses[1])];
    const counter = async (app: INestApplication, name: string) =>
      sample(
        await app.get(GatewayMetrics).registry.metrics(),
        `gateway_bus_${name}_total`,
      );
    try {
      const sender = await connect(one.wsUrl, { token: 't1' });
      const receiver = await connect(two.wsUrl, { token: 't1' });
      const published = (await counter(one.app, 'published')) ?? 0;
      const received = (await counter(two.app, 'received')) ?? 0;
      expect((await sender.request('broadcast', 'across', 1)).data).toEqual({
        recipients: 0,
        instances: 2,
      });
      await receiver.nextJson();
      // The host's own code, publishing through the token, is measured too.
      await one.app
        .get<MessageBus>(MESSAGE_BUS)
        .publish('host:audit', { origin: 'host', frame: '{}' });
      expect(buses[0].published).toEqual(['broadcast', 'host:audit']);
      expect(await counter(one.app, 'published')).toBe(published + 2);
      expect(await counter(two.app, 'received')).toBe(received + 1);
      expect(await counter(one.app, 'publish_failures')).toBe(0);
      await Promise.all([sender.close(), receiver.close()]);
    } finally {
      await Promise.all([one.app.close(), two.app.close()]);
    }
    expect(buses.map((b) => b.closed)).toEqual([true, true]);
  });
});

/** A host's own bus, as a NATS client would be: a broker of its own, and a hook to close it. */
class HostBus implements MessageBus {
  readonly published: string[] = [];
  closed = false;

  constructor(
    private readonly broker: Map<string, Map<HostBus, BusListener>>,
  ) {}

  publish(channel: string, message: BusMessage): Promise<number> {
    this.published.push(channel);
    let reached = 0;
    for (const [bus, listener] of this.broker.get(channel) ?? []) {
      if (bus === this) continue;
      reached++;
      listener(message);
    }
    return Promise.resolve(reached);
  }

  subscribe(channel: string, listener: BusListener): Promise<void> {
    const listeners = this.broker.get(channel) ?? new Map();
    listeners.set(this, listener);
    this.broker.set(channel, listeners);
    return Promise.resolve();
  }

  unsubscribe(channel: string): Promise<void> {
    this.broker.get(channel)?.delete(this);
    return Promise.resolve();
  }

  isReady(): boolean {
    return !this.closed;
  }

  onApplicationShutdown(): void {
    this.closed = true;
  }
}

/** A host gateway with Nest's connection hooks: its binding must run at the handshake. */
@Gateway()
class HookedGateway implements OnGatewayConnection, OnGatewayDisconnect {
  readonly calls: string[] = [];
  handleConnection(client: unknown) {
    this.calls.push(`connected:${typeof client}`);
  }
  handleDisconnect() {
    this.calls.push('disconnected');
  }
  @SubscribeMessage('hooked.ping')
  ping() {
    return 'pong';
  }
}

describe('GatewayModule with Nest’s connection hooks (e2e)', () => {
  it('calls handleConnection at the handshake and handleDisconnect at the close, with no message sent', async () => {
    @Module({
      imports: [GatewayModule.forRoot({ auth: { tokens: ['t1'] } })],
      providers: [HookedGateway],
    })
    class HookedHost {}
    const host = await startModule(HookedHost);
    try {
      const gateway = host.app.get(HookedGateway);
      const quiet = await connect(host.wsUrl, { token: 't1' });
      await eventually(
        () => gateway.calls.length === 1,
        'handleConnection for a client that sent nothing',
      );
      expect(gateway.calls).toEqual(['connected:object']);
      await quiet.close();
      await eventually(
        () => gateway.calls.length === 2,
        'handleDisconnect for that client',
      );
      expect(gateway.calls[1]).toBe('disconnected');

      const talker = await connect(host.wsUrl, { token: 't1' });
      expect(await talker.request('hooked.ping', null, 1)).toEqual({
        event: 'hooked.ping',
        data: 'pong',
        id: 1,
      });
      await talker.close();
    } finally {
      await host.app.close();
    }
  });
});

/** Who may post where, as a host would keep it in its database. */
@Injectable()
class RoomRules {
  readonly asked: string[] = [];
  /** Rooms only moderators may publish to. */
  private readonly readOnly = new Set(['announcements']);

  async mayPublish(principal: Principal, room: string): Promise<boolean> {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return !this.readOnly.has(room) || principal.scopes.includes('moderate');
  }
}

@Module({ providers: [RoomRules], exports: [RoomRules] })
class RoomRulesModule {}

/** The host's policy: an asynchronous lookup for publish, staff rooms only for moderators. */
class HostRoomPolicy implements RoomPolicy {
  constructor(private readonly rules: RoomRules) {}
  authorize(principal: Principal, room: string, action: RoomAction) {
    this.rules.asked.push(`${principal.subject}:${action}:${room}`);
    if (room.startsWith('staff/')) return principal.scopes.includes('moderate');
    return action === 'publish' ? this.rules.mayPublish(principal, room) : true;
  }
}

describe('GatewayModule with a room policy of the host’s own (e2e)', () => {
  let host: Awaited<ReturnType<typeof startModule>>;

  beforeAll(async () => {
    @Module({
      imports: [
        GatewayModule.forRootAsync({
          imports: [KeysModule, RoomRulesModule],
          inject: [ApiKeyStore, RoomRules],
          useFactory: (store: ApiKeyStore, rules: RoomRules) => ({
            auth: { verifier: new ApiKeyVerifier(store) },
            roomPolicy: new HostRoomPolicy(rules),
          }),
        }),
      ],
    })
    class PolicyHost {}
    host = await startModule(PolicyHost);
  });
  afterAll(async () => {
    await host.app.close();
  });

  it('a publish the policy refuses is FORBIDDEN with its id, delivers nothing, and the connection stays open', async () => {
    const alice = await connect(host.wsUrl, { token: 'key-alice' });
    const bob = await connect(host.wsUrl, { token: 'key-bob' });
    const joined = await bob.request('join', { room: 'announcements' }, 1);
    expect(joined).toEqual({
      event: 'join',
      data: {
        room: 'announcements',
        offset: 0,
        epoch: expect.stringMatching(/^[A-Za-z0-9_-]{12}$/) as string,
      },
      id: 1,
    });
    const { epoch } = joined.data as { epoch: string };
    expect(
      await alice.request(
        'publish',
        { room: 'announcements', data: 'free pizza' },
        'p1',
      ),
    ).toEqual({
      event: 'error',
      data: {
        code: 'FORBIDDEN',
        message: 'not allowed to publish to room "announcements"',
      },
      id: 'p1',
    });
    await bob.expectSilence(150);
    expect(host.app.get(RoomRules).asked).toContain(
      'alice:publish:announcements',
    );

    // Still open, and allowed elsewhere.
    expect(await alice.request('echo', 'still here', 2)).toEqual({
      event: 'echo',
      data: 'still here',
      id: 2,
    });
    // The moderator may. The refused publish took no offset: this is the room's first message.
    expect(
      (await alice.request('join', { room: 'announcements' }, 3)).data,
    ).toEqual({ room: 'announcements', offset: 0, epoch });
    expect(
      (
        await bob.request(
          'publish',
          { room: 'announcements', data: 'maintenance at noon' },
          4,
        )
      ).data,
    ).toEqual({
      room: 'announcements',
      recipients: 1,
      instances: 1,
      offset: 1,
      epoch,
    });
    expect(await alice.nextJson()).toEqual({
      event: 'message',
      data: {
        room: 'announcements',
        from: expect.any(String) as string,
        data: 'maintenance at noon',
        offset: 1,
      },
    });
    await Promise.all([alice.close(), bob.close()]);
  });

  it('a refused join is FORBIDDEN and does not subscribe', async () => {
    const alice = await connect(host.wsUrl, { token: 'key-alice' });
    const bob = await connect(host.wsUrl, { token: 'key-bob' });
    expect(await alice.request('join', { room: 'staff/desk' }, 'j1')).toEqual({
      event: 'error',
      data: {
        code: 'FORBIDDEN',
        message: 'not allowed to join room "staff/desk"',
      },
      id: 'j1',
    });
    const rooms = host.app.get(RoomsService);
    expect(rooms.memberCount('staff/desk')).toBe(0);
    const joined = await bob.request('join', { room: 'staff/desk' }, 1);
    expect(joined.data).toEqual({
      room: 'staff/desk',
      offset: 0,
      epoch: expect.stringMatching(/^[A-Za-z0-9_-]{12}$/) as string,
    });
    const { epoch } = joined.data as { epoch: string };
    expect(
      (await bob.request('publish', { room: 'staff/desk', data: 'psst' }, 2))
        .data,
    ).toEqual({
      room: 'staff/desk',
      recipients: 0,
      instances: 1,
      offset: 1,
      epoch,
    });
    await alice.expectSilence(150);
    await Promise.all([alice.close(), bob.close()]);
  });
});
