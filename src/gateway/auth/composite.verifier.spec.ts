import { CompositeVerifier } from './composite.verifier.js';
import type { Principal } from './principal.js';
import { StaticTokenVerifier } from './static-token.verifier.js';
import type { TokenVerifier } from './token-verifier.js';

/** Accepts one token as one subject, and records every token it is asked about. */
class OneToken implements TokenVerifier {
  readonly seen: string[] = [];
  constructor(
    private readonly token: string,
    private readonly subject: string,
  ) {}
  verify(token: string): Promise<Principal | null> {
    this.seen.push(token);
    return Promise.resolve(
      token === this.token ? { subject: this.subject, scopes: [] } : null,
    );
  }
}

/** A verifier that cannot decide (a key server down). */
class Failing implements TokenVerifier {
  calls = 0;
  constructor(private readonly message: string) {}
  verify(): Promise<Principal | null> {
    this.calls++;
    return Promise.reject(new Error(this.message));
  }
}

describe('CompositeVerifier', () => {
  it('accepts a token that any verifier accepts', async () => {
    const composite = new CompositeVerifier([
      new StaticTokenVerifier(['static-one']),
      new OneToken('jwt-one', 'alice'),
    ]);
    expect((await composite.verify('static-one'))?.subject).toBe('token-1');
    expect((await composite.verify('jwt-one'))?.subject).toBe('alice');
    await expect(composite.verify('neither')).resolves.toBeNull();
  });

  it('asks in order and stops at the first that accepts', async () => {
    const first = new OneToken('t', 'first');
    const second = new OneToken('t', 'second');
    const composite = new CompositeVerifier([first, second]);
    expect((await composite.verify('t'))?.subject).toBe('first');
    expect(second.seen).toEqual([]);
  });

  it('does not let a failing verifier hide one that accepts', async () => {
    const failing = new Failing('JWKS down');
    const composite = new CompositeVerifier([
      failing,
      new OneToken('t', 'alice'),
    ]);
    expect((await composite.verify('t'))?.subject).toBe('alice');
    expect(failing.calls).toBe(1);
  });

  it('accepts a static token without asking a failing JWT verifier', async () => {
    const failing = new Failing('JWKS down');
    const composite = new CompositeVerifier([
      new StaticTokenVerifier(['s']),
      failing,
    ]);
    expect((await composite.verify('s'))?.subject).toBe('token-1');
    expect(failing.calls).toBe(0);
  });

  it('throws the first error when none accepts and one could not decide', async () => {
    const composite = new CompositeVerifier([
      new StaticTokenVerifier(['s']),
      new Failing('first failure'),
      new Failing('second failure'),
    ]);
    await expect(composite.verify('x')).rejects.toThrow('first failure');
  });

  it('treats a verifier that throws synchronously the same way', async () => {
    const throwing: TokenVerifier = {
      verify: () => {
        throw new Error('sync failure');
      },
    };
    await expect(new CompositeVerifier([throwing]).verify('x')).rejects.toThrow(
      'sync failure',
    );
    expect(
      (
        await new CompositeVerifier([
          throwing,
          new OneToken('x', 'bob'),
        ]).verify('x')
      )?.subject,
    ).toBe('bob');
  });

  it('refuses everything when it has no verifiers', async () => {
    await expect(new CompositeVerifier([]).verify('x')).resolves.toBeNull();
  });
});
