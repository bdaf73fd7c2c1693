import {
  DEFAULT_REDIS_CHANNEL_PREFIX,
  GATEWAY_DEFAULTS,
  GatewayOptionsError,
  resolveGatewayOptions,
  type GatewayOptions,
} from './gateway.options.js';

function problemsOf(options: GatewayOptions): readonly string[] {
  try {
    resolveGatewayOptions(options);
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayOptionsError);
    return (err as GatewayOptionsError).problems;
  }
  throw new Error(`accepted ${JSON.stringify(options)}`);
}

describe('resolveGatewayOptions', () => {
  it('applies safe defaults when given nothing', () => {
    const expected = {
      path: '/',
      auth: { tokens: [], disabled: false },
      maxConnections: 10_000,
      maxPayloadBytes: 1024 * 1024,
      maxDepth: 64,
      maxFragments: 1024,
      perMessageDeflate: false,
      rateLimit: { perSecond: 100, burst: 200 },
      maxBufferedBytes: 4 * 1024 * 1024,
      heartbeatIntervalMs: 30_000,
      shutdownDrainMs: 10_000,
      maxRoomsPerConnection: 100,
    };
    expect(resolveGatewayOptions()).toEqual(expected);
    expect(resolveGatewayOptions({})).toEqual(expected);
    expect(resolveGatewayOptions({ auth: {} })).toEqual(expected);
    expect(GATEWAY_DEFAULTS).toEqual(expected);
  });

  it('stays in memory (no redis) unless redis is given', () => {
    expect(resolveGatewayOptions().redis).toBeUndefined();
    expect(resolveGatewayOptions({ redis: undefined }).redis).toBeUndefined();
    expect('redis' in GATEWAY_DEFAULTS).toBe(false);
  });

  it('gives redis the channel prefix "gateway:" by default', () => {
    expect(DEFAULT_REDIS_CHANNEL_PREFIX).toBe('gateway:');
    expect(
      resolveGatewayOptions({ redis: { url: 'redis://localhost:6379' } }).redis,
    ).toEqual({ url: 'redis://localhost:6379', channelPrefix: 'gateway:' });
    expect(
      resolveGatewayOptions({
        redis: { url: 'redis://localhost', channelPrefix: undefined },
      }).redis,
    ).toEqual({ url: 'redis://localhost', channelPrefix: 'gateway:' });
  });

  it('keeps an empty channel prefix (one deployment per Redis)', () => {
    expect(
      resolveGatewayOptions({ redis: { url: 'redis://r', channelPrefix: '' } })
        .redis,
    ).toEqual({ url: 'redis://r', channelPrefix: '' });
  });

  it.each([
    'redis://localhost:6379',
    'redis://:secret@cache.internal:6380/2',
    'rediss://user:pw@redis.example.com',
    'redis://127.0.0.1',
  ])('accepts the redis url %s', (url) => {
    expect(resolveGatewayOptions({ redis: { url } }).redis?.url).toBe(url);
  });

  it('treats explicitly undefined fields as unset', () => {
    expect(
      resolveGatewayOptions({
        path: undefined,
        maxPayloadBytes: undefined,
        maxDepth: undefined,
        shutdownDrainMs: undefined,
        maxRoomsPerConnection: undefined,
        redis: undefined,
        auth: { tokens: undefined, disabled: undefined },
      }),
    ).toEqual(resolveGatewayOptions());
  });

  it('keeps every valid value given', () => {
    expect(
      resolveGatewayOptions({
        path: '/ws/v1',
        auth: { tokens: ['a', 'b'], disabled: true },
        maxPayloadBytes: 4096,
        maxDepth: 1000,
        shutdownDrainMs: 0,
        maxRoomsPerConnection: 1,
        redis: { url: 'rediss://cache:6380/1', channelPrefix: 'chat:' },
      }),
    ).toEqual({
      path: '/ws/v1',
      auth: { tokens: ['a', 'b'], disabled: true },
      maxConnections: 10_000,
      maxPayloadBytes: 4096,
      maxDepth: 1000,
      maxFragments: 1024,
      perMessageDeflate: false,
      rateLimit: { perSecond: 100, burst: 200 },
      maxBufferedBytes: 4 * 1024 * 1024,
      heartbeatIntervalMs: 30_000,
      shutdownDrainMs: 0,
      maxRoomsPerConnection: 1,
      redis: { url: 'rediss://cache:6380/1', channelPrefix: 'chat:' },
    });
  });

  it('copies the token list, so later changes to the caller’s list do not leak in', () => {
    const tokens = ['a'];
    const resolved = resolveGatewayOptions({ auth: { tokens } });
    tokens.push('b');
    expect(resolved.auth.tokens).toEqual(['a']);
  });

  it('only disables auth for exactly true', () => {
    const truthy = { auth: { disabled: 'yes' } } as unknown as GatewayOptions;
    expect(resolveGatewayOptions(truthy).auth.disabled).toBe(false);
    expect(
      resolveGatewayOptions({ auth: { disabled: false } }).auth.disabled,
    ).toBe(false);
  });

  it.each([
    ['a path without a leading slash', { path: 'ws' }, /^path: /],
    ['an empty path', { path: '' }, /^path: /],
    ['a path that is not a string', { path: 42 }, /^path: /],
    ['an empty token', { auth: { tokens: ['ok', ''] } }, /^auth\.tokens: /],
    ['a non-string token', { auth: { tokens: ['ok', 7] } }, /^auth\.tokens: /],
    [
      'tokens that are not a list',
      { auth: { tokens: 'abc' } },
      /^auth\.tokens: /,
    ],
    ['a zero payload limit', { maxPayloadBytes: 0 }, /^maxPayloadBytes: /],
    ['a negative payload limit', { maxPayloadBytes: -1 }, /^maxPayloadBytes: /],
    [
      'a fractional payload limit',
      { maxPayloadBytes: 1.5 },
      /^maxPayloadBytes: /,
    ],
    ['a NaN payload limit', { maxPayloadBytes: NaN }, /^maxPayloadBytes: /],
    [
      'an infinite payload limit',
      { maxPayloadBytes: Infinity },
      /^maxPayloadBytes: /,
    ],
    [
      'a string payload limit',
      { maxPayloadBytes: '1024' },
      /^maxPayloadBytes: /,
    ],
    ['a negative drain time', { shutdownDrainMs: -1 }, /^shutdownDrainMs: /],
    ['a fractional drain time', { shutdownDrainMs: 0.5 }, /^shutdownDrainMs: /],
    ['a string drain time', { shutdownDrainMs: '10' }, /^shutdownDrainMs: /],
    [
      'a zero room limit',
      { maxRoomsPerConnection: 0 },
      /^maxRoomsPerConnection: /,
    ],
    [
      'a negative room limit',
      { maxRoomsPerConnection: -3 },
      /^maxRoomsPerConnection: /,
    ],
    [
      'a fractional room limit',
      { maxRoomsPerConnection: 2.5 },
      /^maxRoomsPerConnection: /,
    ],
    [
      'a NaN room limit',
      { maxRoomsPerConnection: NaN },
      /^maxRoomsPerConnection: /,
    ],
    [
      'an infinite room limit',
      { maxRoomsPerConnection: Infinity },
      /^maxRoomsPerConnection: /,
    ],
    [
      'a string room limit',
      { maxRoomsPerConnection: '10' },
      /^maxRoomsPerConnection: /,
    ],
    ['a zero depth limit', { maxDepth: 0 }, /^maxDepth: /],
    ['a depth limit past 1,000', { maxDepth: 1001 }, /^maxDepth: /],
    ['a fractional depth limit', { maxDepth: 64.5 }, /^maxDepth: /],
    ['a string depth limit', { maxDepth: '64' }, /^maxDepth: /],
    [
      'an http url for redis',
      { redis: { url: 'http://localhost:6379' } },
      /^redis\.url: /,
    ],
    [
      'a redis url without a host',
      { redis: { url: 'redis://' } },
      /^redis\.url: /,
    ],
    [
      'a redis url without a scheme',
      { redis: { url: 'localhost:6379' } },
      /^redis\.url: /,
    ],
    ['an empty redis url', { redis: { url: '' } }, /^redis\.url: /],
    ['a missing redis url', { redis: {} }, /^redis\.url: /],
    [
      'a redis url that is not a string',
      { redis: { url: 6379 } },
      /^redis\.url: /,
    ],
    [
      'a channel prefix that is not a string',
      { redis: { url: 'redis://r', channelPrefix: 5 } },
      /^redis\.channelPrefix: /,
    ],
  ])('refuses %s', (_, options, pattern) => {
    const problems = problemsOf(options as unknown as GatewayOptions);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(pattern);
  });

  it('names the offending value', () => {
    expect(problemsOf({ path: 'ws' })[0]).toContain('"ws"');
    expect(problemsOf({ maxPayloadBytes: -5 })[0]).toContain('-5');
    expect(problemsOf({ shutdownDrainMs: -7 })[0]).toContain('-7');
    expect(problemsOf({ maxRoomsPerConnection: -9 })[0]).toContain('-9');
    expect(problemsOf({ maxDepth: 5000 })[0]).toBe(
      'maxDepth: must be an integer from 1 to 1000 (got 5000)',
    );
  });

  it('does not repeat a refused redis url, which may carry a password', () => {
    const [problem] = problemsOf({
      redis: { url: 'http://:hunter2@cache:6379' },
    });
    expect(problem).toBe('redis.url: must be a redis:// or rediss:// URL');
    expect(problem).not.toContain('hunter2');
  });

  it('lists every invalid field together in one error', () => {
    let error: unknown;
    try {
      resolveGatewayOptions({
        path: 'no-slash',
        auth: { tokens: [''] },
        maxPayloadBytes: 0,
        shutdownDrainMs: -1,
        maxRoomsPerConnection: 0,
        redis: { url: 'http://x', channelPrefix: 1 as unknown as string },
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(GatewayOptionsError);
    const { problems, message, name } = error as GatewayOptionsError;
    expect(name).toBe('GatewayOptionsError');
    expect(problems.map((p) => p.split(':')[0])).toEqual([
      'path',
      'auth.tokens',
      'maxPayloadBytes',
      'shutdownDrainMs',
      'maxRoomsPerConnection',
      'redis.url',
      'redis.channelPrefix',
    ]);
    expect(message).toMatch(/^Invalid GatewayModule options:\n/);
    for (const problem of problems) expect(message).toContain(`  - ${problem}`);
  });
});
