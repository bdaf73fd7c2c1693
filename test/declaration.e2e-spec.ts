import {
  Controller,
  Get,
  Module,
  UseFilters,
  UsePipes,
  type INestApplication,
  type Type,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
} from '@nestjs/websockets';
import { IsString } from 'class-validator';
import type { AddressInfo } from 'node:net';
import { TokenExpiryWatch } from '../src/gateway/auth/token-expiry.watch.js';
import {
  Gateway,
  GatewayAdapter,
  GatewayExceptionFilter,
  GatewayModule,
  GatewayValidationPipe,
  UndeclaredGatewayError,
  type Principal,
  type TokenVerifier,
} from '../src/index.js';
import { connect } from './support/ws-client.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A host gateway as Nest's own docs would write it: no filter, no pipe, no guard. */
@WebSocketGateway()
class PlainGateway {
  @SubscribeMessage('plain.throw')
  throws(): never {
    throw new Error('secret internal detail');
  }
}

/** Another one, on a path of its own: the refusal names every such class at once. */
@WebSocketGateway({ path: '/other' })
class OtherPlainGateway {
  @SubscribeMessage('other.ping')
  ping(): string {
    return 'pong';
  }
}

class NameDto {
  @IsString()
  name!: string;
}

/**
 * A host gateway that declares the pipe and filter by hand and forgets the guard: authentication
 * comes from the global guard all the same.
 */
@WebSocketGateway()
@UsePipes(GatewayValidationPipe)
@UseFilters(GatewayExceptionFilter)
class HandDeclaredGateway {
  @SubscribeMessage('hand.hello')
  hello(@MessageBody() { name }: NameDto): string {
    return `hello ${name}`;
  }

  @SubscribeMessage('hand.throw')
  throws(): never {
    throw new Error('secret internal detail');
  }
}

/** The filter and pipe on each handler rather than on the class: declared too. */
@WebSocketGateway()
class PerHandlerGateway {
  @UsePipes(new GatewayValidationPipe())
  @UseFilters(new GatewayExceptionFilter())
  @SubscribeMessage('per-handler.ping')
  ping(): string {
    return 'pong';
  }
}

/** A plain HTTP endpoint: the global guard must let it through. */
@Controller('host')
class HostController {
  @Get('ping')
  ping() {
    return { ok: true };
  }
}

/** `short` expires 300 ms after the handshake; `long` never does. */
class ExpiringVerifier implements TokenVerifier {
  verify(token: string): Principal | null {
    if (token === 'short') {
      return { subject: 'eve', scopes: [], expiresAt: Date.now() + 300 };
    }
    return token === 'long' ? { subject: 'ann', scopes: [] } : null;
  }
}

function hostModule(gateways: Type<unknown>[]): Type<unknown> {
  @Module({
    imports: [
      GatewayModule.forRoot({
        auth: { verifier: new ExpiringVerifier() },
        standardEvents: false,
      }),
    ],
    controllers: [HostController],
    providers: gateways,
  })
  class HostModule {}
  return HostModule;
}

async function createHost(
  gateways: Type<unknown>[],
  { watchExpiry = true } = {},
): Promise<INestApplication> {
  const builder = Test.createTestingModule({
    imports: [hostModule(gateways)],
  });
  // Without the watch the connection outlives its token, so that a message reaches the guard
  // after the expiry instead of racing the 4401 close.
  if (!watchExpiry) {
    builder.overrideProvider(TokenExpiryWatch).useValue({
      onModuleInit() {},
      onModuleDestroy() {},
    });
  }
  const app = (await builder.compile()).createNestApplication({
    logger: false,
  });
  app.useWebSocketAdapter(new GatewayAdapter(app));
  return app;
}

describe('a host gateway declared with plain @WebSocketGateway (e2e)', () => {
  it('stops the boot with an error naming each such class, before any socket is served', async () => {
    const app = await createHost([
      PlainGateway,
      OtherPlainGateway,
      HandDeclaredGateway,
    ]);
    const boot = app.listen(0, '127.0.0.1');
    await expect(boot).rejects.toBeInstanceOf(UndeclaredGatewayError);
    await expect(boot).rejects.toMatchObject({
      classes: ['PlainGateway', 'OtherPlainGateway'],
      message: expect.stringMatching(
        /^PlainGateway, OtherPlainGateway: declare these gateways with @Gateway\(\)/,
      ),
    });
    await app.close().catch(() => undefined);
  });
});

describe('host gateways declared with @Gateway() or by hand (e2e)', () => {
  let app: INestApplication;
  let wsUrl: string;
  let httpUrl: string;

  beforeAll(async () => {
    @Gateway({ path: '/composite' })
    class CompositeGateway {
      @SubscribeMessage('composite.hello')
      hello(@MessageBody() { name }: NameDto): string {
        return `hi ${name}`;
      }
    }
    app = await createHost(
      [HandDeclaredGateway, PerHandlerGateway, CompositeGateway],
      { watchExpiry: false },
    );
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as AddressInfo;
    wsUrl = `ws://127.0.0.1:${port}/`;
    httpUrl = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await app.close();
  });

  it('refuses an expired token with the global guard, on a class that names no guard', async () => {
    const eve = await connect(wsUrl, { token: 'short' });
    expect(await eve.request('hand.hello', { name: 'eve' }, 1)).toEqual({
      event: 'hand.hello',
      data: 'hello eve',
      id: 1,
    });
    await sleep(400);
    expect(await eve.request('hand.hello', { name: 'eve' }, 2)).toEqual({
      event: 'error',
      data: { code: 'UNAUTHORIZED', message: 'token expired' },
      id: 2,
    });
    expect(await eve.request('per-handler.ping', null, 3)).toMatchObject({
      event: 'error',
      data: { code: 'UNAUTHORIZED' },
      id: 3,
    });
    await eve.close();
  });

  it('answers a thrown error and a failed validation with error frames, never with data: null', async () => {
    const ann = await connect(wsUrl, { token: 'long' });
    expect(await ann.request('hand.throw', null, 't1')).toEqual({
      event: 'error',
      data: { code: 'INTERNAL', message: 'internal error' },
      id: 't1',
    });
    expect(
      await ann.request('hand.hello', { name: 'ann', extra: 1 }, 'v1'),
    ).toMatchObject({
      event: 'error',
      data: { code: 'BAD_REQUEST', message: 'validation failed' },
      id: 'v1',
    });
    // Nothing else was sent: no `exception` message of Nest's before or after the error frame.
    expect(await ann.request('per-handler.ping', null, 'p1')).toEqual({
      event: 'per-handler.ping',
      data: 'pong',
      id: 'p1',
    });
    await ann.close();
  });

  it('gives a @Gateway({ path }) class validation at its own path', async () => {
    const ann = await connect(`${wsUrl}composite`, { token: 'long' });
    expect(await ann.request('composite.hello', { name: 'ann' }, 1)).toEqual({
      event: 'composite.hello',
      data: 'hi ann',
      id: 1,
    });
    expect(await ann.request('composite.hello', {}, 2)).toMatchObject({
      event: 'error',
      data: { code: 'BAD_REQUEST' },
      id: 2,
    });
    await ann.close();
  });

  it('lets HTTP requests through the global guard', async () => {
    const response = await fetch(`${httpUrl}/host/ping`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
  });
});
