import { extractToken, MALFORMED } from './extract-token.js';

describe('extractToken', () => {
  describe('from the Authorization header', () => {
    it.each([
      ['Bearer abc.def-ghi', 'abc.def-ghi'],
      ['bearer abc', 'abc'],
      ['BEARER abc', 'abc'],
      ['BeArEr abc', 'abc'],
      ['Bearer    abc', 'abc'],
      ['Bearer\tabc', 'abc'],
      ['  Bearer abc  ', 'abc'],
      ['Bearer abc\t', 'abc'],
    ])('reads the token of %j', (authorization, token) => {
      expect(extractToken({ authorization })).toBe(token);
    });

    it('accepts a bare token, as the python-websockets tutorial sends it', () => {
      expect(extractToken({ authorization: 'secret-token' })).toBe(
        'secret-token',
      );
      expect(extractToken({ authorization: '  secret-token ' })).toBe(
        'secret-token',
      );
    });

    it.each([
      'Basic dXNlcjpwYXNz',
      'Bearer abc def',
      'Token abc',
      'Bearer abc, Bearer def',
      'Digest username="a"',
      'Bearer',
      'bearer   ',
    ])('refuses %j as MALFORMED', (authorization) => {
      expect(extractToken({ authorization })).toBe(MALFORMED);
    });

    it('does not fall back to the query when the header is malformed', () => {
      expect(
        extractToken({
          authorization: 'Basic dXNlcjpwYXNz',
          url: '/?token=from-query',
        }),
      ).toBe(MALFORMED);
    });

    it('wins over the query parameter', () => {
      expect(
        extractToken({
          authorization: 'Bearer from-header',
          url: '/ws?token=from-query',
        }),
      ).toBe('from-header');
    });

    it('is ignored when empty or only blanks, so the query is used', () => {
      expect(extractToken({ authorization: '', url: '/?token=q' })).toBe('q');
      expect(extractToken({ authorization: '  \t', url: '/?token=q' })).toBe(
        'q',
      );
    });
  });

  describe('from the query string', () => {
    it('reads the token parameter', () => {
      expect(extractToken({ url: '/?token=abc' })).toBe('abc');
      expect(extractToken({ url: '/ws/path?x=1&token=abc&y=2' })).toBe('abc');
    });

    it('decodes percent-encoding', () => {
      expect(extractToken({ url: '/?token=a%2Bb%3Dc' })).toBe('a+b=c');
    });

    it('takes the first of repeated token parameters', () => {
      expect(extractToken({ url: '/?token=first&token=second' })).toBe('first');
    });

    it.each([
      ['an empty token', '/?token='],
      ['a bare token key', '/?token'],
      ['another parameter only', '/?access_token=abc'],
      ['no query string', '/ws'],
      ['only a question mark', '/?'],
      ['a token in the path, not the query', '/token=abc'],
    ])('finds nothing in %s', (_, url) => {
      expect(extractToken({ url })).toBeUndefined();
    });
  });

  it('returns undefined when no credentials are offered', () => {
    expect(extractToken({})).toBeUndefined();
    expect(extractToken({ authorization: undefined, url: undefined })).toBe(
      undefined,
    );
  });
});
