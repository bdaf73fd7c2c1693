import { EchoService } from './echo.service.js';

describe('EchoService', () => {
  const service = new EchoService();

  it('returns the data it is given', () => {
    const data = { a: [1, 'two', null], b: { c: true } };
    expect(service.echo(data)).toBe(data);
  });

  it('answers an absent payload with null', () => {
    expect(service.echo(undefined)).toBeNull();
  });
});
