import { SubscribeMessage } from '@nestjs/websockets';
import { Gateway } from '../src/index.js';
import {
  handshakeStatus,
  HandshakeRefused,
  connect,
} from './support/ws-client.js';
import { startApp, TEST_TOKEN, type RunningApp } from './support/start-app.js';

/** A host's admin events, on a path of their own. */
@Gateway({ path: '/admin' })
class AdminGateway {
  @SubscribeMessage('admin.ping')
  ping(): string {
    return 'pong';
  }
}

/** A second gateway on the same path: both serve its clients. */
@Gateway({ path: '/admin' })
class AdminStatsGateway {
  @SubscribeMessage('admin.stats')
  stats(): { ok: boolean } {
    return { ok: true };
  }
}

/** A host gateway on the configured path, next to the standard events. */
@Gateway()
class LobbyGateway {
  @SubscribeMessage('lobby.hello')
  hello(): string {
    return 'welcome';
  }
}

describe('gateways on several paths, behind one handshake (e2e)', () => {
  let gateway: RunningApp;
  let base: string;

  beforeAll(async () => {
    gateway = await startApp({
      providers: [AdminGateway, AdminStatsGateway, LobbyGateway],
    });
    base = gateway.wsUrl.replace(/\/$/, '');
  });
  afterAll(async () => {
    await gateway.close();
  });

  it('the configured path serves the standard events and its own gateways, not the admin ones', async () => {
    const client = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    expect(await client.request('echo', 'hi', 1)).toEqual({
      event: 'echo',
      data: 'hi',
      id: 1,
    });
    expect(await client.request('lobby.hello', null, 2)).toEqual({
      event: 'lobby.hello',
      data: 'welcome',
      id: 2,
    });
    expect(await client.request('admin.ping', null, 3)).toEqual({
      event: 'error',
      data: {
        code: 'UNKNOWN_EVENT',
        message: 'no handler for event "admin.ping"',
      },
      id: 3,
    });
    await client.close();
  });

  it('/admin serves the admin gateways, and only them', async () => {
    const admin = await connect(`${base}/admin`, { token: TEST_TOKEN });
    expect(await admin.request('admin.ping', null, 1)).toEqual({
      event: 'admin.ping',
      data: 'pong',
      id: 1,
    });
    expect(await admin.request('admin.stats', null, 2)).toEqual({
      event: 'admin.stats',
      data: { ok: true },
      id: 2,
    });
    for (const event of ['echo', 'lobby.hello']) {
      expect(await admin.request(event, null, 3)).toMatchObject({
        event: 'error',
        data: { code: 'UNKNOWN_EVENT' },
      });
    }
    await admin.close();
  });

  it('every path checks the token at the handshake; a path no gateway serves is 404', async () => {
    const refused = await handshakeStatus(`${base}/admin`, {});
    expect(refused).toBeInstanceOf(HandshakeRefused);
    expect((refused as HandshakeRefused).status).toBe(401);
    const wrong = await handshakeStatus(`${base}/admin`, { token: 'nope' });
    expect((wrong as HandshakeRefused).status).toBe(401);
    const nowhere = await handshakeStatus(`${base}/nowhere`, {
      token: TEST_TOKEN,
    });
    expect((nowhere as HandshakeRefused).status).toBe(404);
    // The query string does not change the path.
    const admin = await connect(`${base}/admin?x=1`, { token: TEST_TOKEN });
    expect((await admin.request('admin.ping', null, 1)).data).toBe('pong');
    await admin.close();
  });
});
