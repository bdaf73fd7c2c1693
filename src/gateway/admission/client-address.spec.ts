import { describe, expect, it } from 'vitest';
import { isProxyAddressOrBlock, TrustedProxies } from './client-address.js';

describe('isProxyAddressOrBlock', () => {
  it.each([
    '127.0.0.1',
    '10.0.0.0/8',
    '0.0.0.0/0',
    '::1',
    'fd00::/8',
    '2001:db8::/128',
    '::ffff:10.0.0.1',
  ])('accepts %s', (entry) => {
    expect(isProxyAddressOrBlock(entry)).toBe(true);
  });

  it.each([
    '',
    'lb.internal',
    '10.0.0.1:8080',
    '10.0.0.256',
    '10.0.0.0/33',
    '10.0.0.0/',
    '10.0.0.0/-1',
    '10.0.0.0/8/8',
    '10.0.0.0/ 8',
    'fd00::/129',
    'fe80::1%eth0',
    ' 10.0.0.1',
  ])('refuses %j', (entry) => {
    expect(isProxyAddressOrBlock(entry)).toBe(false);
  });
});

describe('TrustedProxies', () => {
  const proxies = new TrustedProxies(['127.0.0.1', '10.0.0.0/8', 'fd00::/8']);

  it('matches addresses, blocks, and IPv4-mapped IPv6 peers', () => {
    expect(proxies.trusts('127.0.0.1')).toBe(true);
    expect(proxies.trusts('::ffff:127.0.0.1')).toBe(true);
    expect(proxies.trusts('10.255.0.1')).toBe(true);
    expect(proxies.trusts('fd00:1::2')).toBe(true);
    expect(proxies.trusts('11.0.0.1')).toBe(false);
    expect(proxies.trusts('not an address')).toBe(false);
  });

  it('refuses to be built from an entry that is not an address or block', () => {
    expect(() => new TrustedProxies(['10.0.0.1', 'lb'])).toThrow(TypeError);
  });

  it('takes the peer’s address when the peer is not a trusted proxy', () => {
    expect(proxies.clientAddress('203.0.113.5', '198.51.100.1')).toBe(
      '203.0.113.5',
    );
  });

  it('takes the peer’s address when a trusted proxy sent no X-Forwarded-For', () => {
    expect(proxies.clientAddress('10.0.0.2', undefined)).toBe('10.0.0.2');
  });

  it('takes the right-most untrusted address, past every trusted hop', () => {
    expect(
      proxies.clientAddress(
        '10.0.0.2',
        '198.51.100.1, 203.0.113.7,10.1.1.1 , fd00::9',
      ),
    ).toBe('203.0.113.7');
  });

  it('takes the left-most address when every hop is a trusted proxy', () => {
    expect(proxies.clientAddress('10.0.0.2', '10.0.0.9, 10.0.0.8')).toBe(
      '10.0.0.9',
    );
  });

  it('reads a repeated header, as an array, in order', () => {
    expect(
      proxies.clientAddress('10.0.0.2', ['198.51.100.1', '203.0.113.7']),
    ).toBe('203.0.113.7');
  });

  it('stops at an entry that is not an address, at the last hop it could vouch for', () => {
    expect(proxies.clientAddress('10.0.0.2', '203.0.113.7, junk')).toBe(
      '10.0.0.2',
    );
    expect(proxies.clientAddress('10.0.0.2', '203.0.113.7:443, 10.0.0.3')).toBe(
      '10.0.0.3',
    );
    expect(proxies.clientAddress('10.0.0.2', '')).toBe('10.0.0.2');
    expect(proxies.clientAddress('10.0.0.2', ',')).toBe('10.0.0.2');
    expect(proxies.clientAddress('10.0.0.2', ', 10.0.0.3')).toBe('10.0.0.3');
  });

  it('returns a bounded address whatever the header holds', () => {
    const zone = `fe80::1%${'a'.repeat(15_000)}`;
    expect(proxies.clientAddress('10.0.0.2', zone)).toBe('10.0.0.2');
    expect(proxies.clientAddress('10.0.0.2', 'x'.repeat(15_000))).toBe(
      '10.0.0.2',
    );
    const many = `${'10.9.9.9, '.repeat(1_500)}203.0.113.8`;
    expect(proxies.clientAddress('10.0.0.2', many)).toBe('203.0.113.8');
  });
});
