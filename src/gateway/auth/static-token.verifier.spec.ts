import { StaticTokenVerifier } from './static-token.verifier.js';

describe('StaticTokenVerifier', () => {
  it('accepts each listed token, named by its place in the list', () => {
    const verifier = new StaticTokenVerifier(['alpha', 'beta', 'gamma']);
    expect(verifier.verify('alpha')).toEqual({
      subject: 'token-1',
      scopes: [],
    });
    expect(verifier.verify('beta')?.subject).toBe('token-2');
    expect(verifier.verify('gamma')?.subject).toBe('token-3');
  });

  it('never puts the token itself in the principal', () => {
    const verifier = new StaticTokenVerifier(['super-secret']);
    expect(JSON.stringify(verifier.verify('super-secret'))).not.toContain(
      'super-secret',
    );
  });

  it.each([
    ['an unknown token', 'delta'],
    ['a prefix of a listed token', 'alph'],
    ['a listed token with a suffix', 'alpha1'],
    ['a listed token in another case', 'ALPHA'],
    ['a listed token with blanks', ' alpha'],
    ['the empty string', ''],
  ])('rejects %s with null', (_, token) => {
    const verifier = new StaticTokenVerifier(['alpha', 'beta']);
    expect(verifier.verify(token)).toBeNull();
  });

  it('rejects everything when no token is listed', () => {
    const verifier = new StaticTokenVerifier([]);
    expect(verifier.size).toBe(0);
    expect(verifier.verify('anything')).toBeNull();
  });

  it('counts a duplicated token once and keeps its first place', () => {
    const verifier = new StaticTokenVerifier(['a', 'b', 'a', 'c']);
    expect(verifier.size).toBe(3);
    expect(verifier.verify('a')?.subject).toBe('token-1');
    expect(verifier.verify('b')?.subject).toBe('token-2');
    // Subjects follow the place in the list as given, duplicates included.
    expect(verifier.verify('c')?.subject).toBe('token-4');
  });

  it('keeps its own copy: changing the list afterwards changes nothing', () => {
    const tokens = ['a'];
    const verifier = new StaticTokenVerifier(tokens);
    tokens.push('b');
    expect(verifier.verify('b')).toBeNull();
    expect(verifier.size).toBe(1);
  });
});
