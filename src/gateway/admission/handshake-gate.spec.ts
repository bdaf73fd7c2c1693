import type { WebSocket } from 'ws';
import { ANONYMOUS } from '../auth/anonymous.verifier.js';
import { HandshakeAuthenticator } from './handshake-authenticator.js';
import type { HandshakeOutcome } from './handshake-authenticator.js';
import type { Principal } from '../auth/principal.js';
import { StaticTokenVerifier } from '../auth/static-token.verifier.js';
import type { TokenVerifier } from '../auth/token-verifier.js';
import {
  resolveGatewayOptions,
  type GatewayOptions,
} from '../gateway.options.js';
import { TrafficStats } from '../connections/traffic-stats.js';
import { ErrorJournal } from '../connections/error-journal.js';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import type { ClientConnection } from '../connections/connection.js';
import { HandshakeGate } from './handshake-gate.js';

const fakeSocket = () => ({}) as unknown as WebSocket;

/** Every token names its principal: `alice` is alice. Answers when `release()` is called. */
class HeldVerifier implements TokenVerifier {
  readonly seen: string[] = [];
  private readonly waiting: Array<() => void> = [];
  verify(token: string): Promise<Principal | null> {
    this.seen.push(token);
    return new Promise((resolve) =>
      this.waiting.push(() => resolve({ subject: token, scopes: [] })),
    );
  }
  release(): void {
    for (const answer of this.waiting.splice(0)) answer();
  }
}

function setUp(options: GatewayOptions, verifier?: TokenVerifier) {
  const resolved = resolveGatewayOptions(options);
  const registry = new ConnectionRegistry(
    'test-instance',
    new TrafficStats(),
    resolved,
    new ErrorJournal(),
  );
  const authenticator = new HandshakeAuthenticator(
    verifier ?? new StaticTokenVerifier(resolved.auth.tokens),
    resolved,
  );
  const gate = new HandshakeGate(resolved, registry, authenticator);
  /** What the adapter does with an outcome: the principal check, then the upgrade, in one turn. */
  const conclude = (
    outcome: HandshakeOutcome,
    address: string,
  ): HandshakeOutcome => {
    const final = gate.admitPrincipal(outcome);
    if (final.principal)
      registry.register(fakeSocket(), final.principal, address);
    return final;
  };
  return { gate, registry, conclude };
}

/** An outcome the gate decided without waiting for a verifier. */
function now(
  outcome: HandshakeOutcome | Promise<HandshakeOutcome>,
): HandshakeOutcome {
  if (outcome instanceof Promise) throw new Error('expected a decision now');
  return outcome;
}

const TOO_MANY = (reason: string) => ({
  rejection: { status: 429, reason, headers: { 'Retry-After': '10' } },
});

describe('HandshakeGate: connections per remote address', () => {
  it('refuses the address over its cap with 429 before the token is looked at; other addresses get in', () => {
    const verifier = new HeldVerifier();
    const { gate, registry } = setUp(
      { auth: { tokens: [] }, maxConnectionsPerAddress: 2 },
      verifier,
    );
    registry.register(fakeSocket(), { subject: 'a', scopes: [] }, '10.0.0.1');
    registry.register(fakeSocket(), { subject: 'b', scopes: [] }, '10.0.0.1');
    expect(
      gate.admit({ authorization: 'Bearer c', remoteAddress: '10.0.0.1' }),
    ).toEqual(TOO_MANY('address_limit'));
    expect(verifier.seen).toEqual([]);
    expect(
      gate.admit({ authorization: 'Bearer c', remoteAddress: '10.0.0.2' }),
    ).toBeInstanceOf(Promise);
    expect(verifier.seen).toEqual(['c']);
  });

  it('admits the address again once one of its connections closes, and forgets an address with none', () => {
    const { gate, registry } = setUp({
      auth: { tokens: ['t'] },
      maxConnectionsPerAddress: 1,
    });
    const first = registry.register(
      fakeSocket(),
      { subject: 'a', scopes: [] },
      '10.0.0.1',
    );
    expect(
      now(gate.admit({ authorization: 'Bearer t', remoteAddress: '10.0.0.1' }))
        .rejection?.reason,
    ).toBe('address_limit');
    registry.unregister(first);
    // A second report of the same close must not count the address below what it holds.
    registry.unregister(first);
    expect(registry.byAddress?.size).toBe(0);
    expect(
      gate.admit({ authorization: 'Bearer t', remoteAddress: '10.0.0.1' }),
    ).toEqual({ principal: { subject: 'token-1', scopes: [] } });
  });

  it('counts handshakes still being verified, so a burst from one address cannot overshoot', async () => {
    const verifier = new HeldVerifier();
    const { gate } = setUp({ maxConnectionsPerAddress: 2 }, verifier);
    const request = { authorization: 'Bearer x', remoteAddress: '10.0.0.9' };
    const pending = [gate.admit(request), gate.admit(request)];
    expect(gate.admit(request)).toEqual(TOO_MANY('address_limit'));
    verifier.release();
    // Verified but never upgraded (the client went away): the slots come back.
    await Promise.all(pending.map((p) => Promise.resolve(p)));
    expect(gate.admit(request)).toBeInstanceOf(Promise);
  });

  it('keeps no per-address count when the cap is off', () => {
    const { gate, registry } = setUp({ auth: { tokens: ['t'] } });
    for (let i = 0; i < 5; i++)
      registry.register(fakeSocket(), { subject: 'a', scopes: [] }, '10.0.0.1');
    expect(registry.byAddress).toBeUndefined();
    expect(
      now(gate.admit({ authorization: 'Bearer t', remoteAddress: '10.0.0.1' }))
        .principal,
    ).toBeDefined();
  });
});

describe('HandshakeGate: connections per principal', () => {
  const alice: Principal = { subject: 'alice', scopes: [] };
  const bob: Principal = { subject: 'bob', scopes: [] };

  it('refuses a principal at its cap with 429; another principal still gets in', () => {
    const { gate, registry } = setUp({ maxConnectionsPerPrincipal: 2 });
    registry.register(fakeSocket(), alice, '10.0.0.1');
    registry.register(fakeSocket(), { ...alice }, '10.0.0.2');
    expect(gate.admitPrincipal({ principal: alice })).toEqual(
      TOO_MANY('principal_limit'),
    );
    expect(gate.admitPrincipal({ principal: bob })).toEqual({
      principal: bob,
    });
  });

  it('admits the principal again once one of its connections closes', () => {
    const { gate, registry } = setUp({ maxConnectionsPerPrincipal: 1 });
    const connection: ClientConnection = registry.register(
      fakeSocket(),
      alice,
      '10.0.0.1',
    );
    expect(gate.admitPrincipal({ principal: alice }).rejection?.reason).toBe(
      'principal_limit',
    );
    registry.unregister(connection);
    expect(registry.byPrincipal?.size).toBe(0);
    expect(gate.admitPrincipal({ principal: alice }).principal).toBe(alice);
  });

  it('passes a rejection through unchanged', () => {
    const { gate } = setUp({ maxConnectionsPerPrincipal: 1 });
    const rejected: HandshakeOutcome = {
      rejection: { status: 401, reason: 'invalid_token', headers: {} },
    };
    expect(gate.admitPrincipal(rejected)).toBe(rejected);
  });

  it('lets handshakes of one principal verified at the same moment in only up to the cap', async () => {
    const verifier = new HeldVerifier();
    const { gate, registry, conclude } = setUp(
      { maxConnectionsPerPrincipal: 2 },
      verifier,
    );
    // One JWKS fetch answering many handshakes at once: every verification ends in one turn.
    const finals = Array.from({ length: 5 }, (_, i) =>
      Promise.resolve(
        gate.admit({
          authorization: 'Bearer alice',
          remoteAddress: `10.0.0.${i}`,
        }),
      ).then((outcome) => conclude(outcome, `10.0.0.${i}`)),
    );
    verifier.release();
    const reasons = (await Promise.all(finals)).map(
      (o) => o.rejection?.reason ?? 'accepted',
    );
    expect(reasons.filter((r) => r === 'accepted')).toHaveLength(2);
    expect(reasons.filter((r) => r === 'principal_limit')).toHaveLength(3);
    expect(registry.byPrincipal?.count('alice')).toBe(2);
  });

  it('applies no cap when it is 0 (the default)', () => {
    const { gate, registry } = setUp({});
    for (let i = 0; i < 5; i++) registry.register(fakeSocket(), alice, 'a');
    expect(registry.byPrincipal).toBeUndefined();
    expect(gate.admitPrincipal({ principal: alice }).principal).toBe(alice);
  });

  it('applies no cap with auth disabled, where every client is the same anonymous principal', () => {
    const { gate, registry } = setUp({
      auth: { disabled: true },
      maxConnectionsPerPrincipal: 1,
    });
    const first = now(gate.admit({ remoteAddress: 'a' }));
    expect(first.principal?.subject).toBe('anonymous');
    registry.register(fakeSocket(), ANONYMOUS, 'a');
    expect(gate.admitPrincipal(first).principal?.subject).toBe('anonymous');
  });
});
