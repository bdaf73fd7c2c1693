import { ConfigValidationError } from './validate-environment.js';
import { gatewayConfig } from './gateway.config.js';
import { resolveGatewayOptions } from '../gateway/gateway.options.js';

const KEYS = [
  'AUTH_TOKENS',
  'AUTH_DISABLED',
  'WS_PATH',
  'WS_MAX_PAYLOAD',
  'WS_MAX_DEPTH',
  'SHUTDOWN_DRAIN_MS',
  'PORT',
  'LOG_LEVEL',
  'REDIS_URL',
  'REDIS_CHANNEL_PREFIX',
  'MAX_ROOMS_PER_CONNECTION',
  'TRUSTED_PROXIES',
  'MAX_CONNECTIONS_PER_PRINCIPAL',
  'MAX_CONNECTIONS_PER_ADDRESS',
  'ROOM_ACL',
  'ROOM_ACL_CLAIM',
  'ROOM_ACL_GRANTS',
] as const;

describe('gatewayConfig', () => {
  const saved: Record<string, string | undefined> = {};

  beforeEach(() => {
    for (const key of KEYS) {
      saved[key] = process.env[key];
      delete process.env[key];
    }
  });

  afterEach(() => {
    for (const key of KEYS) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  });

  it('is registered under the "gateway" namespace', () => {
    expect(gatewayConfig.KEY).toBe('CONFIGURATION(gateway)');
  });

  it('generates a random token when no AUTH_TOKENS is set', () => {
    const config = gatewayConfig();
    const token = config.auth.generatedToken;
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(config.auth.tokens).toEqual([token]);
    expect(config.auth.disabled).toBe(false);
  });

  it('generates a different token each time', () => {
    expect(gatewayConfig().auth.generatedToken).not.toBe(
      gatewayConfig().auth.generatedToken,
    );
  });

  it('treats an empty AUTH_TOKENS as unset', () => {
    process.env.AUTH_TOKENS = '';
    expect(gatewayConfig().auth.generatedToken).toBeDefined();
  });

  it('uses the configured tokens, generating none', () => {
    process.env.AUTH_TOKENS = 'alpha,beta';
    const config = gatewayConfig();
    expect(config.auth).toEqual({
      tokens: ['alpha', 'beta'],
      disabled: false,
      generatedToken: undefined,
    });
  });

  it('generates no token when auth is disabled', () => {
    process.env.AUTH_DISABLED = 'true';
    const config = gatewayConfig();
    expect(config.auth).toEqual({
      tokens: [],
      disabled: true,
      generatedToken: undefined,
    });
  });

  it('still generates a token with AUTH_DISABLED=false', () => {
    process.env.AUTH_DISABLED = 'false';
    const config = gatewayConfig();
    expect(config.auth.disabled).toBe(false);
    expect(config.auth.generatedToken).toBeDefined();
  });

  it('leaves unset values undefined, so the library defaults apply', () => {
    process.env.AUTH_TOKENS = 't';
    const config = gatewayConfig();
    expect(config.path).toBeUndefined();
    expect(config.maxPayloadBytes).toBeUndefined();
    expect(config.shutdownDrainMs).toBeUndefined();
    expect(config.maxRoomsPerConnection).toBeUndefined();
    expect(config.maxDepth).toBeUndefined();
  });

  it('stays in memory without REDIS_URL', () => {
    process.env.AUTH_TOKENS = 't';
    expect(gatewayConfig().redis).toBeUndefined();
    process.env.REDIS_URL = '';
    expect(gatewayConfig().redis).toBeUndefined();
  });

  it('maps REDIS_URL to redis.url, leaving the prefix to the library default', () => {
    process.env.AUTH_TOKENS = 't';
    process.env.REDIS_URL = 'redis://cache:6379/1';
    const config = gatewayConfig();
    expect(config.redis?.url).toBe('redis://cache:6379/1');
    expect(config.redis?.channelPrefix).toBeUndefined();
    expect(resolveGatewayOptions(config).redis).toEqual({
      url: 'redis://cache:6379/1',
      channelPrefix: 'gateway:',
    });
  });

  it('passes REDIS_CHANNEL_PREFIX on with REDIS_URL', () => {
    process.env.AUTH_TOKENS = 't';
    process.env.REDIS_URL = 'rediss://cache';
    process.env.REDIS_CHANNEL_PREFIX = 'chat:';
    expect(gatewayConfig().redis).toEqual({
      url: 'rediss://cache',
      channelPrefix: 'chat:',
    });
  });

  it('passes MAX_ROOMS_PER_CONNECTION on as a number', () => {
    process.env.AUTH_TOKENS = 't';
    process.env.MAX_ROOMS_PER_CONNECTION = '12';
    const config = gatewayConfig();
    expect(config.maxRoomsPerConnection).toBe(12);
    expect(resolveGatewayOptions(config).maxRoomsPerConnection).toBe(12);
  });

  it('trusts no proxy without TRUSTED_PROXIES', () => {
    process.env.AUTH_TOKENS = 't';
    expect(gatewayConfig().trustedProxies).toBeUndefined();
    expect(
      resolveGatewayOptions(gatewayConfig()).trustedProxies,
    ).toBeUndefined();
  });

  it('passes TRUSTED_PROXIES on as a list', () => {
    process.env.AUTH_TOKENS = 't';
    process.env.TRUSTED_PROXIES = '10.0.0.5,192.168.0.0/16';
    const config = gatewayConfig();
    expect(config.trustedProxies).toEqual(['10.0.0.5', '192.168.0.0/16']);
    const proxies = resolveGatewayOptions(config).trustedProxies;
    expect(proxies?.trusts('192.168.4.4')).toBe(true);
    expect(proxies?.trusts('10.0.0.6')).toBe(false);
  });

  it('refuses a TRUSTED_PROXIES entry that is not an address', () => {
    process.env.TRUSTED_PROXIES = 'haproxy';
    expect(() => gatewayConfig()).toThrow(/TRUSTED_PROXIES: /);
  });

  it('passes the per-principal and per-address caps on as numbers, off when unset', () => {
    process.env.AUTH_TOKENS = 't';
    const unset = resolveGatewayOptions(gatewayConfig());
    expect(unset.maxConnectionsPerPrincipal).toBe(0);
    expect(unset.maxConnectionsPerAddress).toBe(0);
    process.env.MAX_CONNECTIONS_PER_PRINCIPAL = '3';
    process.env.MAX_CONNECTIONS_PER_ADDRESS = '40';
    const config = gatewayConfig();
    expect(config.maxConnectionsPerPrincipal).toBe(3);
    expect(config.maxConnectionsPerAddress).toBe(40);
    const resolved = resolveGatewayOptions(config);
    expect(resolved.maxConnectionsPerPrincipal).toBe(3);
    expect(resolved.maxConnectionsPerAddress).toBe(40);
  });

  it('leaves the room ACL off unless ROOM_ACL=true', () => {
    process.env.AUTH_TOKENS = 't';
    expect(gatewayConfig().roomAcl).toBeUndefined();
    process.env.ROOM_ACL = 'false';
    expect(gatewayConfig().roomAcl).toBeUndefined();
  });

  it('turns the room ACL on with ROOM_ACL=true, with its claim and common grants', () => {
    process.env.AUTH_TOKENS = 't';
    process.env.ROOM_ACL = 'true';
    expect(resolveGatewayOptions(gatewayConfig()).roomAcl).toEqual({
      claim: 'rooms',
      grants: [],
    });
    process.env.ROOM_ACL_CLAIM = 'https://example.com/rooms';
    process.env.ROOM_ACL_GRANTS = 'join:public/*,publish:public/hall';
    expect(resolveGatewayOptions(gatewayConfig()).roomAcl).toEqual({
      claim: 'https://example.com/rooms',
      grants: ['join:public/*', 'publish:public/hall'],
    });
  });

  it('passes WS_MAX_DEPTH on as maxDepth', () => {
    process.env.AUTH_TOKENS = 't';
    process.env.WS_MAX_DEPTH = '128';
    const config = gatewayConfig();
    expect(config.maxDepth).toBe(128);
    expect(resolveGatewayOptions(config).maxDepth).toBe(128);
  });

  it('refuses an http:// REDIS_URL', () => {
    process.env.REDIS_URL = 'http://cache:6379';
    expect(() => gatewayConfig()).toThrow(ConfigValidationError);
  });

  it('passes on the configured path and limits as numbers', () => {
    process.env.AUTH_TOKENS = 't';
    process.env.WS_PATH = '/live';
    process.env.WS_MAX_PAYLOAD = '2048';
    process.env.SHUTDOWN_DRAIN_MS = '500';
    const config = gatewayConfig();
    expect(config.path).toBe('/live');
    expect(config.maxPayloadBytes).toBe(2048);
    expect(config.shutdownDrainMs).toBe(500);
  });

  it('throws the validation error for a bad environment', () => {
    process.env.WS_PATH = 'live';
    process.env.PORT = 'abc';
    expect(() => gatewayConfig()).toThrow(ConfigValidationError);
  });
});

describe('gatewayConfig: the web console', () => {
  const CONSOLE_KEYS = [
    'AUTH_TOKENS',
    'AUTH_JWT_SECRET',
    'CONSOLE_TOKENS',
    'CONSOLE_JWT_ROLE_CLAIM',
    'CONSOLE_SESSION_TTL_MS',
    'CONSOLE_STATS_INTERVAL_MS',
  ] as const;
  const saved: Record<string, string | undefined> = {};
  const SECRET = 'correct-horse-battery-staple';

  beforeEach(() => {
    for (const key of CONSOLE_KEYS) {
      saved[key] = process.env[key];
      delete process.env[key];
    }
    process.env.AUTH_TOKENS = 't';
  });
  afterEach(() => {
    for (const key of CONSOLE_KEYS) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  });

  it('leaves the console off without CONSOLE_TOKENS or CONSOLE_JWT_ROLE_CLAIM', () => {
    process.env.CONSOLE_STATS_INTERVAL_MS = '500';
    expect(resolveGatewayOptions(gatewayConfig()).console).toBeUndefined();
    process.env.CONSOLE_TOKENS = '';
    expect(resolveGatewayOptions(gatewayConfig()).console).toBeUndefined();
  });

  it('maps CONSOLE_TOKENS, CONSOLE_SESSION_TTL_MS and CONSOLE_STATS_INTERVAL_MS to the console options', () => {
    process.env.CONSOLE_TOKENS = `alice:admin:${SECRET}`;
    process.env.CONSOLE_SESSION_TTL_MS = '120000';
    process.env.CONSOLE_STATS_INTERVAL_MS = '200';
    const config = gatewayConfig();
    expect(config.console).toMatchObject({
      tokens: `alice:admin:${SECRET}`,
      sessionTtlMs: 120_000,
      statsIntervalMs: 200,
    });
    expect(resolveGatewayOptions(config).console).toEqual({
      credentials: [{ name: 'alice', role: 'admin', secret: SECRET }],
      jwtRoleClaim: undefined,
      sessionTtlMs: 120_000,
      statsIntervalMs: 200,
    });
  });

  it('maps CONSOLE_JWT_ROLE_CLAIM, which needs AUTH_JWT_* to boot', () => {
    process.env.CONSOLE_JWT_ROLE_CLAIM = 'console_role';
    expect(() => resolveGatewayOptions(gatewayConfig())).toThrow(
      /console\.jwtRoleClaim: needs JWT authentication/,
    );
    process.env.AUTH_JWT_SECRET = 'an-hs256-secret-of-at-least-32-bytes!!';
    expect(resolveGatewayOptions(gatewayConfig()).console).toMatchObject({
      credentials: [],
      jwtRoleClaim: 'console_role',
    });
  });

  it('refuses a bad CONSOLE_TOKENS at boot', () => {
    process.env.CONSOLE_TOKENS = 'alice:admin:short';
    expect(() => gatewayConfig()).toThrow(ConfigValidationError);
  });
});
