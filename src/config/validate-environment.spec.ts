import {
  ConfigValidationError,
  validateEnvironment,
} from './validate-environment.js';

function errorFor(env: Record<string, unknown>): ConfigValidationError {
  try {
    validateEnvironment(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigValidationError);
    return err as ConfigValidationError;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

/** The variable each problem names. */
const named = (err: ConfigValidationError) =>
  err.problems.map((p) => p.split(':')[0]);

describe('validateEnvironment', () => {
  it('accepts an empty environment, leaving every value unset', () => {
    const env = validateEnvironment({});
    expect(env).toEqual({});
  });

  it('parses a full valid environment to numbers and booleans', () => {
    const env = validateEnvironment({
      PORT: '8080',
      HOST: '127.0.0.1',
      WS_PATH: '/ws/v1',
      AUTH_TOKENS: 'alpha,beta',
      AUTH_DISABLED: 'true',
      WS_MAX_PAYLOAD: '65536',
      WS_MAX_DEPTH: '128',
      SHUTDOWN_DRAIN_MS: '0',
      REDIS_URL: 'redis://cache:6379/0',
      REDIS_CHANNEL_PREFIX: 'chat:',
      MAX_ROOMS_PER_CONNECTION: '25',
      LOG_LEVEL: 'debug',
      LOG_FORMAT: 'pretty',
    });
    expect(env).toEqual({
      PORT: 8080,
      HOST: '127.0.0.1',
      WS_PATH: '/ws/v1',
      AUTH_TOKENS: 'alpha,beta',
      AUTH_DISABLED: true,
      WS_MAX_PAYLOAD: 65536,
      WS_MAX_DEPTH: 128,
      SHUTDOWN_DRAIN_MS: 0,
      REDIS_URL: 'redis://cache:6379/0',
      REDIS_CHANNEL_PREFIX: 'chat:',
      MAX_ROOMS_PER_CONNECTION: 25,
      LOG_LEVEL: 'debug',
      LOG_FORMAT: 'pretty',
    });
  });

  it('trims blanks around integers', () => {
    expect(validateEnvironment({ PORT: ' 9000 ' }).PORT).toBe(9000);
  });

  it('accepts a REDIS_CHANNEL_PREFIX with ":" anywhere', () => {
    for (const prefix of ['P:', 'P:room:', 'acme:prod:'])
      expect(
        validateEnvironment({ REDIS_CHANNEL_PREFIX: prefix })
          .REDIS_CHANNEL_PREFIX,
      ).toBe(prefix);
  });

  it.each([
    ['true', true],
    ['TRUE', true],
    ['1', true],
    ['yes', true],
    ['on', true],
    ['false', false],
    ['False', false],
    ['0', false],
    ['no', false],
    ['off', false],
  ])('reads AUTH_DISABLED=%j as %s', (value, expected) => {
    expect(validateEnvironment({ AUTH_DISABLED: value }).AUTH_DISABLED).toBe(
      expected,
    );
  });

  it('ignores variables that are not the gateway’s', () => {
    const env = validateEnvironment({
      PATH: '/usr/bin',
      HOME: '/root',
      NODE_ENV: 'production',
      port: 'not-the-same-variable',
      PORT: '80',
    });
    expect(env).toEqual({ PORT: 80 });
  });

  it('counts empty strings as unset', () => {
    const env = validateEnvironment({
      PORT: '',
      HOST: '',
      WS_PATH: '',
      AUTH_TOKENS: '',
      AUTH_DISABLED: '',
      WS_MAX_PAYLOAD: '',
      WS_MAX_DEPTH: '',
      SHUTDOWN_DRAIN_MS: '',
      REDIS_URL: '',
      REDIS_CHANNEL_PREFIX: '',
      MAX_ROOMS_PER_CONNECTION: '',
      LOG_LEVEL: '',
      LOG_FORMAT: '',
    });
    expect(env).toEqual({});
  });

  it('accepts the port bounds 0 and 65535', () => {
    expect(validateEnvironment({ PORT: '0' }).PORT).toBe(0);
    expect(validateEnvironment({ PORT: '65535' }).PORT).toBe(65535);
  });

  it.each([
    'redis://localhost:6379',
    'redis://127.0.0.1',
    'redis://:s3cret@cache.internal:6380/2',
    'redis://user:pw@cache/0',
    'rediss://redis.example.com:6380',
  ])('accepts REDIS_URL=%s as it is', (url) => {
    expect(validateEnvironment({ REDIS_URL: url }).REDIS_URL).toBe(url);
  });

  it('accepts WS_MAX_DEPTH from 1 to 1000', () => {
    expect(validateEnvironment({ WS_MAX_DEPTH: '1' }).WS_MAX_DEPTH).toBe(1);
    expect(validateEnvironment({ WS_MAX_DEPTH: '1000' }).WS_MAX_DEPTH).toBe(
      1000,
    );
  });

  it('accepts MAX_ROOMS_PER_CONNECTION from 1 to 10000', () => {
    expect(
      validateEnvironment({ MAX_ROOMS_PER_CONNECTION: '1' })
        .MAX_ROOMS_PER_CONNECTION,
    ).toBe(1);
    expect(
      validateEnvironment({ MAX_ROOMS_PER_CONNECTION: '10000' })
        .MAX_ROOMS_PER_CONNECTION,
    ).toBe(10_000);
    expect(
      validateEnvironment({ MAX_ROOMS_PER_CONNECTION: ' 50 ' })
        .MAX_ROOMS_PER_CONNECTION,
    ).toBe(50);
  });

  it('accepts 0 (off) and positive per-principal and per-address caps', () => {
    expect(
      validateEnvironment({
        MAX_CONNECTIONS_PER_PRINCIPAL: '0',
        MAX_CONNECTIONS_PER_ADDRESS: '0',
      }),
    ).toEqual({
      MAX_CONNECTIONS_PER_PRINCIPAL: 0,
      MAX_CONNECTIONS_PER_ADDRESS: 0,
    });
    expect(
      validateEnvironment({
        MAX_CONNECTIONS_PER_PRINCIPAL: '5',
        MAX_CONNECTIONS_PER_ADDRESS: ' 20 ',
      }),
    ).toEqual({
      MAX_CONNECTIONS_PER_PRINCIPAL: 5,
      MAX_CONNECTIONS_PER_ADDRESS: 20,
    });
  });

  it.each([
    ['PORT', 'abc', 'must be an integer'],
    ['PORT', '70000', 'must be between 0 and 65535'],
    ['PORT', '-1', 'must be between 0 and 65535'],
    ['PORT', '80.5', 'must be an integer'],
    ['WS_PATH', 'ws', 'must be a URL path starting with "/"'],
    ['WS_PATH', '/a b', 'must be a URL path starting with "/"'],
    [
      'LOG_LEVEL',
      'verbose',
      'must be one of trace, debug, info, warn, error, fatal, silent',
    ],
    ['LOG_FORMAT', 'xml', 'must be one of json, pretty'],
    ['AUTH_DISABLED', 'maybe', 'must be true or false'],
    ['WS_MAX_PAYLOAD', '0', 'must be at least 1 byte'],
    ['WS_MAX_PAYLOAD', '1MiB', 'must be an integer number of bytes'],
    ['WS_MAX_PAYLOAD', '268435457', 'must be at most 268435456 (256 MiB)'],
    ['WS_MAX_DEPTH', '0', 'must be between 1 and 1000'],
    ['WS_MAX_DEPTH', '1001', 'must be between 1 and 1000'],
    ['WS_MAX_DEPTH', 'deep', 'must be an integer'],
    ['SHUTDOWN_DRAIN_MS', '-5', 'must not be negative'],
    ['SHUTDOWN_DRAIN_MS', '10s', 'must be an integer number of milliseconds'],
    ['WS_CLOSE_GRACE_MS', '-1', 'must not be negative'],
    ['RATE_LIMIT_BYTES_PER_SEC', '0', 'must be at least 1'],
    ['RATE_LIMIT_BYTES_BURST', '1MB', 'must be an integer number of bytes'],
    ['RATE_LIMIT_FANOUT_BYTES_PER_SEC', '-3', 'must be at least 1'],
    [
      'REDIS_URL',
      'http://localhost:6379',
      'must be a redis:// or rediss:// URL',
    ],
    ['REDIS_URL', 'https://cache', 'must be a redis:// or rediss:// URL'],
    ['REDIS_URL', 'localhost:6379', 'must be a redis:// or rediss:// URL'],
    ['REDIS_URL', 'redis://', 'must be a redis:// or rediss:// URL'],
    ['REDIS_URL', 'redis://cache host', 'must be a redis:// or rediss:// URL'],
    ['REDIS_URL', 'REDIS://cache', 'must be a redis:// or rediss:// URL'],
    ['REDIS_URL', 'redis:/cache', 'must be a redis:// or rediss:// URL'],
    [
      'REDIS_CHANNEL_PREFIX',
      'my app:',
      'must be at most 64 characters of A-Z a-z 0-9 _ - . : @ /',
    ],
    [
      'REDIS_CHANNEL_PREFIX',
      'P|',
      'must not contain "|", which ends the prefix in every channel name',
    ],
    [
      'REDIS_CHANNEL_PREFIX',
      'p'.repeat(65),
      'must be at most 64 characters of A-Z a-z 0-9 _ - . : @ /',
    ],
    ['MAX_ROOMS_PER_CONNECTION', '0', 'must be between 1 and 10000'],
    ['MAX_ROOMS_PER_CONNECTION', '-1', 'must be between 1 and 10000'],
    ['MAX_ROOMS_PER_CONNECTION', '10001', 'must be between 1 and 10000'],
    ['MAX_ROOMS_PER_CONNECTION', '2.5', 'must be an integer'],
    ['MAX_ROOMS_PER_CONNECTION', 'many', 'must be an integer'],
    [
      'MAX_CONNECTIONS_PER_PRINCIPAL',
      '-1',
      'must not be negative (0 turns the cap off)',
    ],
    ['MAX_CONNECTIONS_PER_PRINCIPAL', 'ten', 'must be an integer'],
    [
      'MAX_CONNECTIONS_PER_ADDRESS',
      '-3',
      'must not be negative (0 turns the cap off)',
    ],
    ['MAX_CONNECTIONS_PER_ADDRESS', '1.5', 'must be an integer'],
    ['ROOM_ACL', 'strict', 'must be true or false'],
  ])('refuses %s=%j: %s', (key, value, reason) => {
    const err = errorFor({ [key]: value });
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toMatch(new RegExp(`^${key}: `));
    expect(err.problems[0]).toContain(reason);
    expect(err.problems[0]).toContain(`(got ${JSON.stringify(value)})`);
  });

  it.each([
    ['an empty entry', 'a,,b'],
    ['a leading comma', ',a'],
    ['a trailing comma', 'a,'],
    ['a space after a comma', 'a, b'],
    ['a space inside a token', 'a b'],
    ['a leading space', ' a'],
  ])('refuses AUTH_TOKENS with %s', (_, value) => {
    const err = errorFor({ AUTH_TOKENS: value });
    expect(named(err)).toEqual(['AUTH_TOKENS']);
    expect(err.problems[0]).toContain(
      'must be a comma-separated list of tokens without spaces or empty entries',
    );
  });

  it('accepts TRUSTED_PROXIES as IP addresses and CIDR blocks, v4 and v6', () => {
    const value = '127.0.0.1,10.0.0.0/8,::1,fd00::/8';
    expect(
      validateEnvironment({ TRUSTED_PROXIES: value }).TRUSTED_PROXIES,
    ).toBe(value);
  });

  it.each([
    ['a host name', 'lb.internal'],
    ['an empty entry', '10.0.0.1,,10.0.0.2'],
    ['a space after a comma', '10.0.0.1, 10.0.0.2'],
    ['an address with a port', '10.0.0.1:8080'],
    ['a prefix too long for IPv4', '10.0.0.0/33'],
    ['a prefix too long for IPv6', 'fd00::/129'],
    ['a prefix that is not a number', '10.0.0.0/eight'],
    ['an IPv4 address out of range', '10.0.0.256'],
  ])('refuses TRUSTED_PROXIES with %s', (_, value) => {
    const err = errorFor({ TRUSTED_PROXIES: value });
    expect(named(err)).toEqual(['TRUSTED_PROXIES']);
    expect(err.problems[0]).toContain(
      'must be a comma-separated list of IP addresses or CIDR blocks',
    );
    expect(err.problems[0]).toContain(`(got ${JSON.stringify(value)})`);
  });

  it('accepts the room ACL, its claim and its common grants', () => {
    expect(
      validateEnvironment({
        ROOM_ACL: 'true',
        ROOM_ACL_CLAIM: 'https://example.com/rooms',
        ROOM_ACL_GRANTS: 'join:public/*,publish:public/hall,*:team:1',
      }),
    ).toEqual({
      ROOM_ACL: true,
      ROOM_ACL_CLAIM: 'https://example.com/rooms',
      ROOM_ACL_GRANTS: 'join:public/*,publish:public/hall,*:team:1',
    });
  });

  it.each([
    ['no action', 'lobby'],
    ['an unknown action', 'leave:lobby'],
    ['an empty entry', 'join:a,,join:b'],
    ['a space', 'join:a, join:b'],
    ['a regex', 'join:.+'],
  ])('refuses ROOM_ACL_GRANTS with %s', (_, value) => {
    const err = errorFor({ ROOM_ACL: 'true', ROOM_ACL_GRANTS: value });
    expect(named(err)).toEqual(['ROOM_ACL_GRANTS']);
    expect(err.problems[0]).toContain(
      'must be a comma-separated list of grants (join:lobby,publish:chat/*)',
    );
  });

  it.each(['ROOM_ACL_CLAIM', 'ROOM_ACL_GRANTS'])(
    'refuses %s without ROOM_ACL=true, where it would do nothing',
    (key) => {
      const value = key === 'ROOM_ACL_CLAIM' ? 'rooms' : 'join:lobby';
      for (const env of [{}, { ROOM_ACL: 'false' }]) {
        const err = errorFor({ ...env, [key]: value });
        expect(named(err)).toEqual([key]);
        expect(err.problems[0]).toContain('only applies with ROOM_ACL=true');
      }
    },
  );

  it('names every bad variable in one error', () => {
    const err = errorFor({
      PORT: 'abc',
      WS_PATH: 'ws',
      LOG_LEVEL: 'loud',
      AUTH_TOKENS: 'a,,b',
      HOST: 'localhost',
      WS_MAX_PAYLOAD: '1024',
    });
    expect(err.name).toBe('ConfigValidationError');
    expect(new Set(named(err))).toEqual(
      new Set(['PORT', 'WS_PATH', 'LOG_LEVEL', 'AUTH_TOKENS']),
    );
    expect(err.message).toMatch(/^Invalid configuration \(4 problems\):\n/);
    for (const key of ['PORT', 'WS_PATH', 'LOG_LEVEL', 'AUTH_TOKENS']) {
      expect(err.message).toContain(`  - ${key}: `);
    }
    expect(err.message).not.toContain('HOST');
    expect(err.message).not.toContain('WS_MAX_PAYLOAD');
  });

  it('says "1 problem" for a single one', () => {
    expect(errorFor({ PORT: 'abc' }).message).toMatch(
      /^Invalid configuration \(1 problem\):\n/,
    );
  });
});

describe('validateEnvironment: the web console', () => {
  const SECRET = 'correct-horse-battery-staple';

  it('accepts console logins, a JWT role claim, a session length and a stats interval', () => {
    const env = validateEnvironment({
      CONSOLE_TOKENS: `alice:admin:${SECRET},bob:viewer:${SECRET}-2`,
      CONSOLE_JWT_ROLE_CLAIM: 'https://example.com/console_role',
      CONSOLE_SESSION_TTL_MS: '60000',
      CONSOLE_STATS_INTERVAL_MS: '100',
    });
    expect(env).toMatchObject({
      CONSOLE_TOKENS: `alice:admin:${SECRET},bob:viewer:${SECRET}-2`,
      CONSOLE_JWT_ROLE_CLAIM: 'https://example.com/console_role',
      CONSOLE_SESSION_TTL_MS: 60_000,
      CONSOLE_STATS_INTERVAL_MS: 100,
    });
  });

  it.each([
    [
      'CONSOLE_TOKENS',
      'alice:admin:short',
      'entry 1 (alice) has a secret shorter than 16 characters',
    ],
    [
      'CONSOLE_TOKENS',
      `alice:root:${SECRET}`,
      'entry 1 has a role that is not admin or viewer',
    ],
    [
      'CONSOLE_TOKENS',
      `alice:admin:${SECRET},alice:viewer:${SECRET}-2`,
      'the name alice is given twice',
    ],
    ['CONSOLE_JWT_ROLE_CLAIM', 'two claims', 'must be one claim name'],
    ['CONSOLE_JWT_ROLE_CLAIM', 'a,b', 'must be one claim name'],
    ['CONSOLE_SESSION_TTL_MS', '59999', 'must be at least 60000 (a minute)'],
    ['CONSOLE_STATS_INTERVAL_MS', '99', 'must be at least 100'],
    ['CONSOLE_STATS_INTERVAL_MS', '60001', 'must be between 100 and 60000'],
    ['CONSOLE_STATS_INTERVAL_MS', 'often', 'must be an integer'],
  ])('refuses %s=%j', (key, value, reason) => {
    const err = errorFor({ [key]: value });
    expect(named(err)).toEqual([key]);
    expect(err.problems[0]).toContain(reason);
  });

  // Problems end with `(got <the value>)`, but not for credentials: one bad entry of
  // CONSOLE_TOKENS would put every console secret, the good entries' too, in the logged error.
  it('never puts a console secret in the error', () => {
    const err = errorFor({
      CONSOLE_TOKENS: `alice:admin:${SECRET},bob:viewer:short`,
    });
    expect(named(err)).toEqual(['CONSOLE_TOKENS']);
    expect(err.message).not.toContain(SECRET);
  });
});
