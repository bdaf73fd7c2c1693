import {
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
      maxPayloadBytes: 1024 * 1024,
      shutdownDrainMs: 10_000,
    };
    expect(resolveGatewayOptions()).toEqual(expected);
    expect(resolveGatewayOptions({})).toEqual(expected);
    expect(resolveGatewayOptions({ auth: {} })).toEqual(expected);
    expect(GATEWAY_DEFAULTS).toEqual(expected);
  });

  it('treats explicitly undefined fields as unset', () => {
    expect(
      resolveGatewayOptions({
        path: undefined,
        maxPayloadBytes: undefined,
        shutdownDrainMs: undefined,
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
        shutdownDrainMs: 0,
      }),
    ).toEqual({
      path: '/ws/v1',
      auth: { tokens: ['a', 'b'], disabled: true },
      maxPayloadBytes: 4096,
      shutdownDrainMs: 0,
    });
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
  ])('refuses %s', (_, options, pattern) => {
    const problems = problemsOf(options as unknown as GatewayOptions);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(pattern);
  });

  it('names the offending value', () => {
    expect(problemsOf({ path: 'ws' })[0]).toContain('"ws"');
    expect(problemsOf({ maxPayloadBytes: -5 })[0]).toContain('-5');
    expect(problemsOf({ shutdownDrainMs: -7 })[0]).toContain('-7');
  });

  it('lists every invalid field together in one error', () => {
    let error: unknown;
    try {
      resolveGatewayOptions({
        path: 'no-slash',
        auth: { tokens: [''] },
        maxPayloadBytes: 0,
        shutdownDrainMs: -1,
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
    ]);
    expect(message).toMatch(/^Invalid GatewayModule options:\n/);
    for (const problem of problems) expect(message).toContain(`  - ${problem}`);
  });
});
