import { captureErrorLogs } from '../../../test/support/capture-error-logs.js';
import { resolveGatewayOptions } from '../gateway.options.js';
import { ANONYMOUS } from '../auth/anonymous.verifier.js';
import { HandshakeAuthenticator } from './handshake-authenticator.js';
import type { Principal } from '../auth/principal.js';
import { StaticTokenVerifier } from '../auth/static-token.verifier.js';
import type { TokenVerifier } from '../auth/token-verifier.js';

const CHALLENGE = 'Bearer realm="gateway"';
const INVALID_CHALLENGE = 'Bearer realm="gateway", error="invalid_token"';

/** A verifier that answers with a fixed principal and records the tokens it saw. */
class RecordingVerifier implements TokenVerifier {
  readonly seen: string[] = [];
  constructor(private readonly answer: () => Promise<Principal | null>) {}
  verify(token: string): Promise<Principal | null> {
    this.seen.push(token);
    return this.answer();
  }
}

describe('HandshakeAuthenticator', () => {
  const options = resolveGatewayOptions({ auth: { tokens: ['good'] } });
  const authenticator = new HandshakeAuthenticator(
    new StaticTokenVerifier(options.auth.tokens),
    options,
  );

  it('accepts a listed token from the header, synchronously as the verifier answers', () => {
    expect(
      authenticator.authenticate({ authorization: 'Bearer good' }),
    ).toEqual({ principal: { subject: 'token-1', scopes: [] } });
  });

  it('accepts a bare header token and a query token', async () => {
    const bare = await authenticator.authenticate({ authorization: 'good' });
    const query = await authenticator.authenticate({ url: '/?token=good' });
    expect(bare.principal?.subject).toBe('token-1');
    expect(query.principal?.subject).toBe('token-1');
  });

  it('refuses a handshake without credentials: 401 with no error attribute', async () => {
    const outcome = await authenticator.authenticate({ url: '/' });
    expect(outcome.principal).toBeUndefined();
    expect(outcome.rejection).toEqual({
      status: 401,
      reason: 'missing_token',
      headers: { 'WWW-Authenticate': CHALLENGE },
    });
  });

  it('refuses an empty query token as missing', async () => {
    const outcome = await authenticator.authenticate({ url: '/?token=' });
    expect(outcome.rejection?.reason).toBe('missing_token');
  });

  it('refuses an unknown token: 401 with error="invalid_token"', async () => {
    const outcome = await authenticator.authenticate({
      authorization: 'Bearer wrong',
    });
    expect(outcome.principal).toBeUndefined();
    expect(outcome.rejection).toEqual({
      status: 401,
      reason: 'invalid_token',
      headers: { 'WWW-Authenticate': INVALID_CHALLENGE },
    });
  });

  it('refuses a malformed header without looking at the query', async () => {
    const outcome = await authenticator.authenticate({
      authorization: 'Basic Z29vZA==',
      url: '/?token=good',
    });
    expect(outcome.rejection).toEqual({
      status: 401,
      reason: 'malformed_authorization',
      headers: { 'WWW-Authenticate': INVALID_CHALLENGE },
    });
  });

  it('uses the header token over the query token', async () => {
    const outcome = await authenticator.authenticate({
      authorization: 'Bearer wrong',
      url: '/?token=good',
    });
    expect(outcome.rejection?.reason).toBe('invalid_token');
  });

  it('passes the extracted token, and only it, to the verifier', async () => {
    const verifier = new RecordingVerifier(() =>
      Promise.resolve({ subject: 'alice', scopes: ['chat'] }),
    );
    const auth = new HandshakeAuthenticator(verifier, options);
    const outcome = await auth.authenticate({ authorization: 'bearer  t0k' });
    expect(verifier.seen).toEqual(['t0k']);
    expect(outcome).toEqual({
      principal: { subject: 'alice', scopes: ['chat'] },
    });
  });

  it('does not call the verifier when there is no usable token', async () => {
    const verifier = new RecordingVerifier(() =>
      Promise.resolve({ subject: 'alice', scopes: [] }),
    );
    const auth = new HandshakeAuthenticator(verifier, options);
    await auth.authenticate({});
    await auth.authenticate({ authorization: 'Basic x' });
    expect(verifier.seen).toEqual([]);
  });

  describe('when the verifier cannot decide', () => {
    const logs = captureErrorLogs();

    it.each([
      ['rejects', () => Promise.reject(new Error('JWKS endpoint unreachable'))],
      [
        'throws synchronously',
        () => {
          throw new Error('JWKS endpoint unreachable');
        },
      ],
    ])(
      'answers 503 verifier_error with Retry-After when it %s',
      async (_, answer) => {
        const auth = new HandshakeAuthenticator(
          new RecordingVerifier(answer),
          options,
        );
        const outcome = await auth.authenticate({
          authorization: 'Bearer sekrit-token',
        });
        expect(outcome.principal).toBeUndefined();
        expect(outcome.rejection).toEqual({
          status: 503,
          reason: 'verifier_error',
          headers: { 'Retry-After': '5' },
        });
        expect(logs()).toHaveLength(1);
        expect(JSON.stringify(logs())).toContain('JWKS endpoint unreachable');
        expect(JSON.stringify(logs())).not.toContain('sekrit-token');
      },
    );

    it('answers 503 when it throws something that is not an Error', async () => {
      const auth = new HandshakeAuthenticator(
        new RecordingVerifier(() => Promise.reject('down')),
        options,
      );
      const outcome = await auth.authenticate({ authorization: 'Bearer x' });
      expect(outcome.rejection?.status).toBe(503);
      expect(JSON.stringify(logs())).toContain('down');
    });
  });

  describe('expiry', () => {
    it('refuses a principal that has expired as invalid_token', async () => {
      const auth = new HandshakeAuthenticator(
        new RecordingVerifier(() =>
          Promise.resolve({
            subject: 'alice',
            scopes: [],
            expiresAt: Date.now() - 1000,
          }),
        ),
        options,
      );
      const outcome = await auth.authenticate({ authorization: 'Bearer t' });
      expect(outcome.rejection).toEqual({
        status: 401,
        reason: 'invalid_token',
        headers: { 'WWW-Authenticate': INVALID_CHALLENGE },
      });
    });

    it('refuses a principal that expires at this very millisecond', async () => {
      const now = 1_700_000_000_000;
      vi.useFakeTimers({ now, toFake: ['Date'] });
      try {
        const auth = new HandshakeAuthenticator(
          new RecordingVerifier(() =>
            Promise.resolve({ subject: 'alice', scopes: [], expiresAt: now }),
          ),
          options,
        );
        const outcome = await auth.authenticate({ authorization: 'Bearer t' });
        expect(outcome.rejection?.reason).toBe('invalid_token');
      } finally {
        vi.useRealTimers();
      }
    });

    it('accepts a principal that has not expired yet', async () => {
      const principal: Principal = {
        subject: 'alice',
        scopes: [],
        expiresAt: Date.now() + 60_000,
      };
      const auth = new HandshakeAuthenticator(
        new RecordingVerifier(() => Promise.resolve(principal)),
        options,
      );
      await expect(
        auth.authenticate({ authorization: 'Bearer t' }),
      ).resolves.toEqual({ principal });
    });
  });

  describe('with auth disabled', () => {
    const disabled = resolveGatewayOptions({ auth: { disabled: true } });

    it.each([
      ['no credentials', {}],
      ['a malformed header', { authorization: 'Basic x' }],
      ['an unknown token', { authorization: 'Bearer whatever' }],
    ])('accepts %s as the anonymous principal', async (_, credentials) => {
      const verifier = new RecordingVerifier(() => Promise.resolve(null));
      const auth = new HandshakeAuthenticator(verifier, disabled);
      const outcome = await auth.authenticate(credentials);
      expect(outcome.rejection).toBeUndefined();
      expect(outcome.principal).toBe(ANONYMOUS);
      expect(outcome.principal).toEqual({ subject: 'anonymous', scopes: [] });
      expect(verifier.seen).toEqual([]);
    });
  });
});
