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
      'p'.repeat(65),
      'must be at most 64 characters of A-Z a-z 0-9 _ - . : @ /',
    ],
    ['MAX_ROOMS_PER_CONNECTION', '0', 'must be between 1 and 10000'],
    ['MAX_ROOMS_PER_CONNECTION', '-1', 'must be between 1 and 10000'],
    ['MAX_ROOMS_PER_CONNECTION', '10001', 'must be between 1 and 10000'],
    ['MAX_ROOMS_PER_CONNECTION', '2.5', 'must be an integer'],
    ['MAX_ROOMS_PER_CONNECTION', 'many', 'must be an integer'],
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
