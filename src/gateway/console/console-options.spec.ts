import {
  MIN_CONSOLE_SECRET_LENGTH,
  parseConsoleCredentials,
} from './console-options.js';

const SECRET = 'correct-horse-battery-staple';
const OTHER = 'a-long-viewer-secret';

describe('parseConsoleCredentials', () => {
  it('reads name:role:secret entries from a comma-separated string or a list', () => {
    const expected = [
      { name: 'alice', role: 'admin', secret: SECRET },
      { name: 'bob', role: 'viewer', secret: OTHER },
    ];
    expect(
      parseConsoleCredentials(`alice:admin:${SECRET},bob:viewer:${OTHER}`),
    ).toEqual({ credentials: expected, problems: [] });
    expect(
      parseConsoleCredentials([`alice:admin:${SECRET}`, `bob:viewer:${OTHER}`]),
    ).toEqual({ credentials: expected, problems: [] });
  });

  it('is empty without tokens', () => {
    expect(parseConsoleCredentials(undefined)).toEqual({
      credentials: [],
      problems: [],
    });
  });

  it('keeps colons inside a secret', () => {
    expect(
      parseConsoleCredentials('ops.team@example-1:admin:with:colons:inside!')
        .credentials,
    ).toEqual([
      {
        name: 'ops.team@example-1',
        role: 'admin',
        secret: 'with:colons:inside!',
      },
    ]);
  });

  it(`refuses a secret shorter than ${MIN_CONSOLE_SECRET_LENGTH} characters, and takes one of exactly that`, () => {
    const short = 'x'.repeat(MIN_CONSOLE_SECRET_LENGTH - 1);
    const { credentials, problems } = parseConsoleCredentials(
      `alice:admin:${short}`,
    );
    expect(credentials).toEqual([]);
    expect(problems).toEqual([
      'console.tokens: entry 1 (alice) has a secret shorter than 16 characters',
    ]);
    expect(
      parseConsoleCredentials(
        `alice:admin:${'x'.repeat(MIN_CONSOLE_SECRET_LENGTH)}`,
      ).problems,
    ).toEqual([]);
  });

  it.each([
    ['a role that is not admin or viewer', `alice:root:${SECRET}`],
    ['a role in capitals', `alice:Admin:${SECRET}`],
    ['an empty role', `alice::${SECRET}`],
  ])('refuses %s', (_, entry) => {
    const { credentials, problems } = parseConsoleCredentials(entry);
    expect(credentials).toEqual([]);
    expect(problems).toEqual([
      'console.tokens: entry 1 has a role that is not admin or viewer',
    ]);
  });

  it.each([
    ['no colon', SECRET],
    ['one colon', `alice:${SECRET}`],
    ['an empty name', `:admin:${SECRET}`],
    ['a name with a space', `al ice:admin:${SECRET}`],
    ['a name of 65 characters', `${'n'.repeat(65)}:admin:${SECRET}`],
    ['an empty entry', ''],
  ])('refuses an entry with %s', (_, entry) => {
    const { credentials, problems } = parseConsoleCredentials(entry);
    expect(credentials).toEqual([]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^console\.tokens: entry 1 /);
  });

  it('refuses a name given twice, and a secret given twice', () => {
    expect(
      parseConsoleCredentials(`alice:admin:${SECRET},alice:viewer:${OTHER}`)
        .problems,
    ).toEqual(['console.tokens: the name alice is given twice']);
    expect(
      parseConsoleCredentials(`alice:admin:${SECRET},bob:viewer:${SECRET}`)
        .problems,
    ).toEqual([
      'console.tokens: entry 2 (bob) has the secret of another entry',
    ]);
  });

  it('names every bad entry by its place', () => {
    expect(
      parseConsoleCredentials([
        `alice:admin:${SECRET}`,
        'bob:viewer:short',
        42,
        `carol:boss:${OTHER}`,
      ]).problems,
    ).toEqual([
      'console.tokens: entry 2 (bob) has a secret shorter than 16 characters',
      'console.tokens: entry 3 is not a string',
      'console.tokens: entry 4 has a role that is not admin or viewer',
    ]);
    expect(parseConsoleCredentials(42).problems).toEqual([
      'console.tokens: must be name:role:secret entries',
    ]);
  });

  // Boot errors are logged: a problem must never repeat a secret, whatever the mistake.
  it.each([
    ['too short', 'alice:admin:short-secret-1'],
    ['a bad role', `alice:root:${SECRET}`],
    ['role and secret swapped', `alice:${SECRET}:admin`],
    ['no name (secret:role)', `${SECRET}:admin`],
    ['no name (role:secret)', `admin:${SECRET}`],
    ['only the secret', SECRET],
    ['a name that is not one', `${SECRET} x:admin:${OTHER}`],
    ['a duplicate secret', `alice:admin:${SECRET},bob:viewer:${SECRET}`],
    ['a duplicate name', `alice:admin:${SECRET},alice:viewer:${OTHER}`],
  ])('never puts a secret in a problem: %s', (_, tokens) => {
    const { problems } = parseConsoleCredentials(tokens);
    expect(problems.length).toBeGreaterThan(0);
    for (const problem of problems) {
      expect(problem).not.toContain(SECRET);
      expect(problem).not.toContain(OTHER);
      expect(problem).not.toContain('short-secret-1');
    }
  });

  it('names no part of a secret split by a comma', () => {
    const { problems } = parseConsoleCredentials(
      'alice:admin:first-half,second:half:of-the-secret',
    );
    for (const problem of problems) {
      expect(problem).not.toContain('first-half');
      expect(problem).not.toContain('second');
      expect(problem).not.toContain('half');
    }
  });
});
