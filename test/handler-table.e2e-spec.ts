import {
  Injectable,
  Module,
  UseGuards,
  UseInterceptors,
  UsePipes,
  type CallHandler,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
  type NestInterceptor,
  type PipeTransform,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WsException,
} from '@nestjs/websockets';
import { IsString } from 'class-validator';
import type { AddressInfo } from 'node:net';
import { map, of, throwError, type Observable } from 'rxjs';
import { ConnectionRegistry } from '../src/gateway/connections/connection-registry.js';
import { connectionOf } from '../src/gateway/connections/connection.js';
import { isCompiledHandler } from '../src/gateway/dispatch/handler-table.js';
import {
  CurrentConnection,
  CurrentPrincipal,
  Gateway,
  GatewayAdapter,
  GatewayModule,
  RequireScopes,
  type ConnectionInfo,
  type Principal,
  type TokenVerifier,
} from '../src/index.js';
import { connect, type TestClient } from './support/ws-client.js';

/** Every guard, pipe and interceptor call, in order, for the tests to read. */
const calls: string[] = [];

class NameDto {
  @IsString()
  name!: string;
}

/** A host's own guard: refuses `deny`, answers `slow` through a promise. */
@Injectable()
class HostGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const data = context.switchToWs().getData<{ mode?: string } | null>();
    calls.push(`guard:${context.getHandler().name}`);
    if (data?.mode === 'deny') return false;
    if (data?.mode === 'slow') return Promise.resolve(true);
    return true;
  }
}

/** What a guard sees of a message's context, compiled path or Nest's, as plain data. */
const seen: Record<string, unknown>[] = [];

@Injectable()
class ContextProbeGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const ws = context.switchToWs();
    seen.push({
      type: context.getType(),
      class: context.getClass().name,
      handler: context.getHandler().name,
      args: context.getArgs().length,
      connected: connectionOf(ws.getClient()) !== undefined,
      sameClient: ws.getClient() === context.getArgByIndex(0),
      data: ws.getData(),
      pattern: ws.getPattern(),
      // A second switch gives the same answers.
      again: context.switchToWs().getPattern(),
    });
    return true;
  }
}

/** A host's parameter pipe: upper-cases a string, after the gateway's validation. */
@Injectable()
class UpperPipe implements PipeTransform {
  transform(value: unknown): unknown {
    calls.push('pipe:upper');
    return typeof value === 'string' ? value.toUpperCase() : value;
  }
}

/** An async method pipe. */
@Injectable()
class TagPipe implements PipeTransform {
  async transform(value: unknown): Promise<unknown> {
    await Promise.resolve();
    return typeof value === 'object' && value !== null
      ? { ...value, tagged: true }
      : value;
  }
}

/** A host interceptor: wraps the result, which only Nest's own pipeline can do. */
@Injectable()
class WrapInterceptor implements NestInterceptor {
  intercept(_: ExecutionContext, next: CallHandler): Observable<unknown> {
    calls.push('interceptor');
    return next.handle().pipe(map((value) => ({ wrapped: value })));
  }
}

@Gateway()
class FastGateway {
  @SubscribeMessage('fast.echo')
  echo(@MessageBody() data: unknown): unknown {
    return data ?? null;
  }

  @SubscribeMessage('fast.hello')
  hello(
    @MessageBody() { name }: NameDto,
    @CurrentConnection() connection: ConnectionInfo,
    @CurrentPrincipal() principal: Principal,
  ): string {
    return `hello ${name} (${principal.subject}, ${typeof connection.id})`;
  }

  @SubscribeMessage('fast.raw')
  raw(@ConnectedSocket() socket: unknown): boolean {
    return typeof socket === 'object' && socket !== null;
  }

  @SubscribeMessage('fast.async')
  async later(@MessageBody() data: unknown): Promise<unknown> {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return { later: data };
  }

  @SubscribeMessage('fast.throw')
  throws(@MessageBody() data: { kind?: string } | null): never {
    if (data?.kind === 'ws') throw new WsException('nope');
    throw new Error('secret detail');
  }

  @SubscribeMessage('fast.reject')
  async rejects(): Promise<never> {
    await Promise.resolve();
    throw new Error('secret detail');
  }

  @SubscribeMessage('fast.observable')
  observable(
    @MessageBody() data: { fail?: boolean } | null,
  ): Observable<unknown> {
    return data?.fail ? throwError(() => new Error('secret')) : of('seen');
  }

  @SubscribeMessage('fast.nothing')
  nothing(): void {}

  @RequireScopes('admin')
  @SubscribeMessage('fast.admin')
  admin(): string {
    return 'ok';
  }

  @UseGuards(HostGuard)
  @SubscribeMessage('fast.guarded')
  guarded(@MessageBody() data: unknown): unknown {
    return data;
  }

  @UseGuards(ContextProbeGuard)
  @SubscribeMessage('fast.context')
  context(): string {
    return 'seen';
  }

  @SubscribeMessage('fast.stream')
  stream(@MessageBody() n: number): Observable<number> {
    return n < 0 ? throwError(() => new WsException('negative')) : of(n, n + 1);
  }

  @SubscribeMessage('fast.upper')
  upper(@MessageBody('text', UpperPipe) text: string): string {
    return text;
  }

  @UsePipes(TagPipe)
  @SubscribeMessage('fast.tagged')
  tagged(@MessageBody() data: unknown): unknown {
    return data;
  }
}

@UseInterceptors(WrapInterceptor)
@Gateway()
class InterceptedGateway {
  @SubscribeMessage('generic.hello')
  hello(@MessageBody() { name }: NameDto): string {
    return `hello ${name}`;
  }

  @UseGuards(ContextProbeGuard)
  @SubscribeMessage('generic.context')
  context(): string {
    return 'seen';
  }

  @SubscribeMessage('generic.throw')
  throws(): never {
    throw new WsException('nope');
  }
}

/** Two gateways of one path answer `twice`: which one serves it is Nest's binding order. */
@Gateway()
class FirstTwin {
  @SubscribeMessage('twice')
  twice(): string {
    return 'first';
  }
}
@Gateway()
class SecondTwin {
  @SubscribeMessage('twice')
  twice(): string {
    return 'second';
  }
}

class Verifier implements TokenVerifier {
  verify(token: string): Principal | null {
    if (token === 'admin') return { subject: 'ada', scopes: ['admin'] };
    return token === 'user' ? { subject: 'bob', scopes: [] } : null;
  }
}

@Module({
  imports: [
    GatewayModule.forRoot({
      auth: { verifier: new Verifier() },
      standardEvents: false,
    }),
  ],
  providers: [
    HostGuard,
    UpperPipe,
    TagPipe,
    WrapInterceptor,
    FastGateway,
    InterceptedGateway,
    FirstTwin,
    SecondTwin,
  ],
})
class HostModule {}

describe('compiled handlers and the generic path (e2e)', () => {
  let app: INestApplication;
  let url: string;
  let bob: TestClient;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [HostModule],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    app.useWebSocketAdapter(new GatewayAdapter(app));
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as AddressInfo;
    url = `ws://127.0.0.1:${port}/`;
    bob = await connect(url, { token: 'user' });
  });
  afterAll(async () => {
    await bob.close();
    await app.close();
  });
  beforeEach(() => {
    calls.length = 0;
    seen.length = 0;
  });

  it("gives a guard the same context as Nest's own path: client, data, pattern, handler", async () => {
    expect(await bob.request('fast.context', { x: 1 }, 'c1')).toEqual({
      event: 'fast.context',
      data: 'seen',
      id: 'c1',
    });
    expect(await bob.request('generic.context', { x: 1 }, 'c2')).toMatchObject({
      event: 'generic.context',
      id: 'c2',
    });
    const common = {
      type: 'ws',
      handler: 'context',
      args: 4,
      connected: true,
      sameClient: true,
      data: { x: 1 },
    };
    expect(seen).toEqual([
      {
        ...common,
        class: 'FastGateway',
        pattern: 'fast.context',
        again: 'fast.context',
      },
      {
        ...common,
        class: 'InterceptedGateway',
        pattern: 'generic.context',
        again: 'generic.context',
      },
    ]);
  });

  it('answers a compiled handler’s Observable with its first value, and its error as an error frame', async () => {
    expect(await bob.request('fast.stream', 5, 'o1')).toEqual({
      event: 'fast.stream',
      data: 5,
      id: 'o1',
    });
    expect(await bob.request('fast.stream', -1, 'o2')).toMatchObject({
      event: 'error',
      id: 'o2',
      data: { message: 'negative' },
    });
    await bob.expectSilence(100);
  });

  it('serves the handlers without interceptors compiled, the others through Nest', async () => {
    await bob.request('fast.echo', 1, 0);
    const [connection] = app.get(ConnectionRegistry).all();
    const handlers = connection!.handlers!;
    for (const event of [
      'fast.echo',
      'fast.hello',
      'fast.guarded',
      'fast.upper',
      'fast.tagged',
    ]) {
      expect(isCompiledHandler(handlers.get(event)), event).toBe(true);
    }
    expect(isCompiledHandler(handlers.get('generic.hello'))).toBe(false);
    expect(isCompiledHandler(handlers.get('twice'))).toBe(false);
  });

  it('answers as Nest would: values, parameters, custom decorators, nothing', async () => {
    expect(await bob.request('fast.echo', { a: 1 }, 1)).toEqual({
      event: 'fast.echo',
      data: { a: 1 },
      id: 1,
    });
    expect(await bob.request('fast.hello', { name: 'x' }, 2)).toEqual({
      event: 'fast.hello',
      data: 'hello x (bob, string)',
      id: 2,
    });
    expect(await bob.request('fast.raw', null, 3)).toMatchObject({
      data: true,
    });
    expect(await bob.request('fast.async', 7, 4)).toEqual({
      event: 'fast.async',
      data: { later: 7 },
      id: 4,
    });
    expect(await bob.request('fast.observable', null, 5)).toMatchObject({
      data: 'seen',
    });
    expect(await bob.request('fast.nothing', null, 6)).toEqual({
      event: 'fast.nothing',
      data: null,
      id: 6,
    });
  });

  it('answers every failure with an error frame carrying the id', async () => {
    expect(await bob.request('fast.hello', { name: 1 }, 'v')).toMatchObject({
      event: 'error',
      data: { code: 'BAD_REQUEST', message: 'validation failed' },
      id: 'v',
    });
    expect(await bob.request('fast.throw', null, 't')).toEqual({
      event: 'error',
      data: { code: 'INTERNAL', message: 'internal error' },
      id: 't',
    });
    expect(await bob.request('fast.throw', { kind: 'ws' }, 'w')).toEqual({
      event: 'error',
      data: { code: 'BAD_REQUEST', message: 'nope' },
      id: 'w',
    });
    expect(await bob.request('fast.reject', null, 'r')).toMatchObject({
      data: { code: 'INTERNAL' },
      id: 'r',
    });
    expect(
      await bob.request('fast.observable', { fail: true }, 'o'),
    ).toMatchObject({ data: { code: 'INTERNAL' }, id: 'o' });
    expect(await bob.request('fast.admin', null, 's')).toEqual({
      event: 'error',
      data: { code: 'FORBIDDEN', message: 'missing scope: admin' },
      id: 's',
    });
    const ada = await connect(url, { token: 'admin' });
    expect(await ada.request('fast.admin', null, 1)).toMatchObject({
      data: 'ok',
    });
    await ada.close();
  });

  it("runs a host's guards after the global one, sync or async, and refuses on false", async () => {
    expect(await bob.request('fast.guarded', { mode: 'ok' }, 1)).toMatchObject({
      data: { mode: 'ok' },
    });
    expect(
      await bob.request('fast.guarded', { mode: 'slow' }, 2),
    ).toMatchObject({ data: { mode: 'slow' } });
    expect(await bob.request('fast.guarded', { mode: 'deny' }, 3)).toEqual({
      event: 'error',
      data: { code: 'FORBIDDEN', message: 'Forbidden resource' },
      id: 3,
    });
    expect(calls).toEqual(['guard:guarded', 'guard:guarded', 'guard:guarded']);
  });

  it("runs a host's parameter and method pipes after the gateway's validation", async () => {
    expect(await bob.request('fast.upper', { text: 'abc' }, 1)).toMatchObject({
      data: 'ABC',
    });
    expect(calls).toEqual(['pipe:upper']);
    expect(await bob.request('fast.tagged', { a: 1 }, 2)).toMatchObject({
      data: { a: 1, tagged: true },
    });
  });

  it('leaves handlers with interceptors to Nest, filters included', async () => {
    expect(await bob.request('generic.hello', { name: 'y' }, 1)).toEqual({
      event: 'generic.hello',
      data: { wrapped: 'hello y' },
      id: 1,
    });
    expect(calls).toEqual(['interceptor']);
    expect(await bob.request('generic.hello', {}, 2)).toMatchObject({
      event: 'error',
      data: { code: 'BAD_REQUEST' },
      id: 2,
    });
    expect(await bob.request('generic.throw', null, 3)).toEqual({
      event: 'error',
      data: { code: 'BAD_REQUEST', message: 'nope' },
      id: 3,
    });
  });

  it('leaves an event of two gateways of a path to the first one Nest bound', async () => {
    expect(await bob.request('twice', null, 1)).toMatchObject({
      data: 'first',
    });
  });
});
