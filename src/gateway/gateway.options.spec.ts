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
      maxConnectionsPerPrincipal: 0,
      maxConnectionsPerAddress: 0,
      maxPayloadBytes: 1024 * 1024,
      maxDepth: 64,
      maxFragments: 1024,
      perMessageDeflate: false,
      rateLimit: {
        perSecond: 100,
        burst: 200,
        bytesPerSecond: 1024 * 1024,
        bytesBurst: 4 * 1024 * 1024,
        fanoutBytesPerSecond: 64 * 1024 * 1024,
      },
      maxBufferedBytes: 4 * 1024 * 1024,
      heartbeatIntervalMs: 30_000,
      shutdownDrainMs: 10_000,
      closeGraceMs: 3_000,
      maxRoomsPerConnection: 100,
      history: {
        size: 1_000,
        ttlMs: 300_000,
        recoveryLimit: 1_000,
        memoryBytes: 64 * 1024 * 1024,
      },
      presence: {
        enabled: true,
        tickMs: 200,
        ttlMs: 15_000,
        maxMembers: 1_000,
        infoClaims: [],
      },
      asyncapi: false,
    };
    expect(resolveGatewayOptions()).toEqual(expected);
    expect(resolveGatewayOptions({})).toEqual(expected);
    expect(resolveGatewayOptions({ auth: {} })).toEqual(expected);
    expect(GATEWAY_DEFAULTS).toEqual(expected);
  });

  it('checks the history settings and their seams', () => {
    expect(problemsOf({ history: { size: -1 } })).toEqual([
      'history.size: must be an integer from 0 to 100000 (got -1)',
    ]);
    expect(problemsOf({ history: { ttlMs: 0 } })).toEqual([
      'history.ttlMs: must be a positive integer (got 0)',
    ]);
    expect(
      problemsOf({
        history: {
          retention: 'chat/*' as never,
          store: {} as never,
        },
      }),
    ).toEqual([
      'history.retention: must be a function of the room name',
      'history.store: must implement HistoryStore (append, read)',
    ]);
    const retention = () => ({ size: 0 });
    expect(resolveGatewayOptions({ history: { retention } }).history).toEqual({
      size: 1_000,
      ttlMs: 300_000,
      recoveryLimit: 1_000,
      memoryBytes: 64 * 1024 * 1024,
      retention,
    });
  });

  it('checks the presence settings and their seams', () => {
    expect(problemsOf({ presence: { tickMs: 0 } })).toEqual([
      'presence.tickMs: must be an integer from 1 to 60000 (got 0)',
    ]);
    expect(
      problemsOf({
        presence: {
          info: { name: 'x' } as never,
          infoClaims: [''],
          store: {} as never,
        },
      }),
    ).toEqual([
      'presence.info: must be a function of the principal',
      'presence.infoClaims: must be a list of claim names',
      'presence.store: must implement PresenceStore (set, list, refresh, sweep)',
    ]);
  });

  it('gives the byte burst at least one largest message, and refuses a smaller one', () => {
    expect(
      resolveGatewayOptions({ maxPayloadBytes: 16 * 1024 * 1024 }).rateLimit
        .bytesBurst,
    ).toBe(16 * 1024 * 1024);
    expect(
      resolveGatewayOptions({ rateLimit: { bytesBurst: 2 * 1024 * 1024 } })
        .rateLimit.bytesBurst,
    ).toBe(2 * 1024 * 1024);
    expect(
      problemsOf({ maxPayloadBytes: 4096, rateLimit: { bytesBurst: 1000 } }),
    ).toEqual([
      'rateLimit.bytesBurst: must be at least maxPayloadBytes (4096), or the largest messages could never pass (got 1000)',
    ]);
    expect(problemsOf({ rateLimit: { fanoutBytesPerSecond: 0 } })[0]).toMatch(
      /^rateLimit.fanoutBytesPerSecond: /,
    );
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

  it.each(['P:', 'P:room:', 'acme:prod:', 'a/b@c.d-e_f'])(
    'accepts the channel prefix %j (":" anywhere)',
    (channelPrefix) => {
      expect(
        resolveGatewayOptions({ redis: { url: 'redis://r', channelPrefix } })
          .redis?.channelPrefix,
      ).toBe(channelPrefix);
    },
  );

  it.each(['P|', '|', 'P|room:'])(
    'refuses the channel prefix %j: "|" ends the prefix in channel names',
    (channelPrefix) => {
      expect(
        problemsOf({ redis: { url: 'redis://r', channelPrefix } }),
      ).toEqual([
        `redis.channelPrefix: must not contain "|", which ends the prefix in every channel name (got ${JSON.stringify(channelPrefix)})`,
      ]);
    },
  );

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
        closeGraceMs: 250,
        maxRoomsPerConnection: 1,
        history: { size: 5, ttlMs: 1_000, recoveryLimit: 7, memoryBytes: 4096 },
        presence: {
          enabled: false,
          tickMs: 50,
          ttlMs: 3_000,
          maxMembers: 9,
          infoClaims: ['name'],
        },
        redis: { url: 'rediss://cache:6380/1', channelPrefix: 'chat:' },
        asyncapi: true,
      }),
    ).toEqual({
      path: '/ws/v1',
      auth: { tokens: ['a', 'b'], disabled: true },
      maxConnections: 10_000,
      maxConnectionsPerPrincipal: 0,
      maxConnectionsPerAddress: 0,
      maxPayloadBytes: 4096,
      maxDepth: 1000,
      maxFragments: 1024,
      perMessageDeflate: false,
      rateLimit: {
        perSecond: 100,
        burst: 200,
        bytesPerSecond: 1024 * 1024,
        bytesBurst: 4 * 1024 * 1024,
        fanoutBytesPerSecond: 64 * 1024 * 1024,
      },
      maxBufferedBytes: 4 * 1024 * 1024,
      heartbeatIntervalMs: 30_000,
      shutdownDrainMs: 0,
      closeGraceMs: 250,
      maxRoomsPerConnection: 1,
      history: { size: 5, ttlMs: 1_000, recoveryLimit: 7, memoryBytes: 4096 },
      presence: {
        enabled: false,
        tickMs: 50,
        ttlMs: 3_000,
        maxMembers: 9,
        infoClaims: ['name'],
      },
      redis: { url: 'rediss://cache:6380/1', channelPrefix: 'chat:' },
      asyncapi: true,
    });
  });

  it('keeps per-principal and per-address caps, 0 turning them off', () => {
    const resolved = resolveGatewayOptions({
      maxConnectionsPerPrincipal: 3,
      maxConnectionsPerAddress: 50,
    });
    expect(resolved.maxConnectionsPerPrincipal).toBe(3);
    expect(resolved.maxConnectionsPerAddress).toBe(50);
    const off = resolveGatewayOptions({
      maxConnectionsPerPrincipal: 0,
      maxConnectionsPerAddress: 0,
    });
    expect(off.maxConnectionsPerPrincipal).toBe(0);
    expect(off.maxConnectionsPerAddress).toBe(0);
  });

  it('leaves room permissions open (no policy, no ACL) by default', () => {
    const resolved = resolveGatewayOptions();
    expect(resolved.roomPolicy).toBeUndefined();
    expect(resolved.roomAcl).toBeUndefined();
  });

  it('gives the room ACL the claim "rooms" and no common grants by default', () => {
    expect(resolveGatewayOptions({ roomAcl: {} }).roomAcl).toEqual({
      claim: 'rooms',
      grants: [],
    });
    expect(
      resolveGatewayOptions({
        roomAcl: { claim: 'https://example.com/rooms', grants: ['join:lobby'] },
      }).roomAcl,
    ).toEqual({ claim: 'https://example.com/rooms', grants: ['join:lobby'] });
  });

  it('keeps a room policy of the host’s own', () => {
    const roomPolicy = { authorize: () => true };
    expect(resolveGatewayOptions({ roomPolicy }).roomPolicy).toBe(roomPolicy);
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
    ['a negative close grace', { closeGraceMs: -1 }, /^closeGraceMs: /],
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
      'a negative per-principal cap',
      { maxConnectionsPerPrincipal: -1 },
      /^maxConnectionsPerPrincipal: /,
    ],
    [
      'a fractional per-principal cap',
      { maxConnectionsPerPrincipal: 1.5 },
      /^maxConnectionsPerPrincipal: /,
    ],
    [
      'a string per-address cap',
      { maxConnectionsPerAddress: '10' },
      /^maxConnectionsPerAddress: /,
    ],
    [
      'a negative per-address cap',
      { maxConnectionsPerAddress: -2 },
      /^maxConnectionsPerAddress: /,
    ],
    [
      'a room policy without authorize',
      { roomPolicy: { allow: () => true } },
      /^roomPolicy: /,
    ],
    [
      'a room grant without an action',
      { roomAcl: { grants: ['lobby'] } },
      /^roomAcl\.grants: "lobby" must be <action>:<room pattern>/,
    ],
    [
      'a room grant with a regex',
      { roomAcl: { grants: ['join:.+'] } },
      /^roomAcl\.grants: /,
    ],
    [
      'room grants that are not a list',
      { roomAcl: { grants: 'join:lobby' } },
      /^roomAcl\.grants: /,
    ],
    ['an empty ACL claim', { roomAcl: { claim: '' } }, /^roomAcl\.claim: /],
    [
      'both a room policy and a room ACL',
      { roomPolicy: { authorize: () => true }, roomAcl: {} },
      /^roomAcl: give roomPolicy or roomAcl, not both/,
    ],
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
    [
      'trusted proxies that are not a list',
      { trustedProxies: '10.0.0.1' },
      /^trustedProxies: /,
    ],
    [
      'a trusted proxy that is a host name',
      { trustedProxies: ['10.0.0.1', 'lb.internal'] },
      /^trustedProxies: /,
    ],
    [
      'a trusted proxy block with a bad prefix',
      { trustedProxies: ['10.0.0.0/40'] },
      /^trustedProxies: /,
    ],
  ])('refuses %s', (_, options, pattern) => {
    const problems = problemsOf(options as unknown as GatewayOptions);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(pattern);
  });

  it('trusts the listed proxies, addresses and blocks, and no other', () => {
    const { trustedProxies } = resolveGatewayOptions({
      trustedProxies: ['127.0.0.1', '10.0.0.0/8', 'fd00::/8'],
    });
    expect(trustedProxies?.trusts('127.0.0.1')).toBe(true);
    expect(trustedProxies?.trusts('10.200.0.1')).toBe(true);
    expect(trustedProxies?.trusts('fd12::1')).toBe(true);
    expect(trustedProxies?.trusts('127.0.0.2')).toBe(false);
    expect(resolveGatewayOptions().trustedProxies).toBeUndefined();
    expect(
      resolveGatewayOptions({ trustedProxies: [] }).trustedProxies,
    ).toBeUndefined();
  });

  it('names the offending value', () => {
    expect(problemsOf({ path: 'ws' })[0]).toContain('"ws"');
    expect(problemsOf({ maxPayloadBytes: -5 })[0]).toContain('-5');
    expect(problemsOf({ shutdownDrainMs: -7 })[0]).toContain('-7');
    expect(problemsOf({ maxRoomsPerConnection: -9 })[0]).toContain('-9');
    expect(problemsOf({ trustedProxies: ['lb.internal'] })[0]).toContain(
      '"lb.internal"',
    );
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

describe('resolveGatewayOptions: the web console', () => {
  const SECRET = 'correct-horse-battery-staple';
  const JWT = { secret: 'an-hs256-secret-of-at-least-32-bytes!!' };

  it('is off without logins or a JWT role claim', () => {
    expect(resolveGatewayOptions().console).toBeUndefined();
    expect(resolveGatewayOptions({ console: {} }).console).toBeUndefined();
    expect(
      resolveGatewayOptions({ console: { statsIntervalMs: 500 } }).console,
    ).toBeUndefined();
    expect(
      resolveGatewayOptions({ console: { tokens: [] } }).console,
    ).toBeUndefined();
  });

  it('is on with logins, with an 8 h session and a 2 s interval by default', () => {
    expect(
      resolveGatewayOptions({ console: { tokens: `alice:admin:${SECRET}` } })
        .console,
    ).toEqual({
      credentials: [{ name: 'alice', role: 'admin', secret: SECRET }],
      jwtRoleClaim: undefined,
      sessionTtlMs: 8 * 3_600_000,
      statsIntervalMs: 2_000,
    });
    expect(
      resolveGatewayOptions({
        console: {
          tokens: [`bob:viewer:${SECRET}`],
          sessionTtlMs: 60_000,
          statsIntervalMs: 200,
        },
      }).console,
    ).toMatchObject({ sessionTtlMs: 60_000, statsIntervalMs: 200 });
  });

  it('is on with a JWT role claim and JWT authentication, without logins', () => {
    expect(
      resolveGatewayOptions({
        auth: { jwt: JWT },
        console: { jwtRoleClaim: 'console_role' },
      }).console,
    ).toMatchObject({ credentials: [], jwtRoleClaim: 'console_role' });
    expect(
      resolveGatewayOptions({
        auth: { verifier: { verify: () => null } },
        console: { jwtRoleClaim: 'console_role' },
      }).console?.jwtRoleClaim,
    ).toBe('console_role');
  });

  it('refuses a JWT role claim without JWT authentication to verify the JWTs', () => {
    expect(
      problemsOf({
        auth: { tokens: ['client-token'] },
        console: {
          jwtRoleClaim: 'console_role',
          tokens: `alice:admin:${SECRET}`,
        },
      }),
    ).toEqual([
      'console.jwtRoleClaim: needs JWT authentication (auth.jwt or auth.verifier) to verify the JWTs',
    ]);
  });

  it.each([
    [
      'an empty JWT role claim',
      { jwtRoleClaim: '' },
      /^console\.jwtRoleClaim: /,
    ],
    [
      'a session of 0 ms',
      { tokens: `alice:admin:${SECRET}`, sessionTtlMs: 0 },
      /^console\.sessionTtlMs: /,
    ],
    [
      'a stats interval of 0',
      { tokens: `alice:admin:${SECRET}`, statsIntervalMs: 0 },
      /^console\.statsIntervalMs: /,
    ],
    [
      'a stats interval over a minute',
      { tokens: `alice:admin:${SECRET}`, statsIntervalMs: 60_001 },
      /^console\.statsIntervalMs: /,
    ],
    [
      'a login with a bad role',
      { tokens: `alice:root:${SECRET}` },
      /^console\.tokens: /,
    ],
    ['a short secret', { tokens: 'alice:admin:short' }, /^console\.tokens: /],
    [
      'a name given twice',
      { tokens: `alice:admin:${SECRET},alice:viewer:${SECRET}-2` },
      /^console\.tokens: /,
    ],
  ])('refuses %s', (_, console_, pattern) => {
    const problems = problemsOf({
      auth: { jwt: JWT },
      console: console_ as GatewayOptions['console'],
    });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(pattern);
  });

  it('never puts a console secret in the boot error', () => {
    let error: unknown;
    try {
      resolveGatewayOptions({
        console: {
          tokens: `alice:admin:${SECRET},bob:viewer:short-secret,carol:${SECRET}-2:admin`,
        },
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(GatewayOptionsError);
    const { message, problems } = error as GatewayOptionsError;
    expect(problems).toHaveLength(2);
    expect(message).not.toContain(SECRET);
    expect(message).not.toContain('short-secret');
  });

  it('refuses a console secret that is also a client token, without quoting it', () => {
    let error: unknown;
    try {
      resolveGatewayOptions({
        auth: { tokens: [SECRET] },
        console: { tokens: `alice:admin:${SECRET}` },
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(GatewayOptionsError);
    const message = (error as GatewayOptionsError).message;
    expect(message).toContain("alice's secret is also a client token");
    expect(message).not.toContain(SECRET);
  });
});
