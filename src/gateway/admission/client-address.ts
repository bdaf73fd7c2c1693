import { BlockList, isIP } from 'node:net';

/**
 * The longest text taken for an address: an IPv6 address written out in full is 45 characters,
 * leaving room for a short zone (`fe80::1%eth0`). `isIP` accepts a zone of any length, so without
 * this bound a client could put 15 kB into a log line as its "address".
 */
const MAX_ADDRESS_LENGTH = 64;

type Family = 'ipv4' | 'ipv6';

function familyOf(text: string): Family | undefined {
  if (text.length > MAX_ADDRESS_LENGTH) return undefined;
  const version = isIP(text);
  return version === 4 ? 'ipv4' : version === 6 ? 'ipv6' : undefined;
}

interface ProxyEntry {
  address: string;
  family: Family;
  /** Set for a CIDR block. */
  prefix?: number;
}

function parseProxyEntry(entry: string): ProxyEntry | undefined {
  const slash = entry.indexOf('/');
  const address = slash === -1 ? entry : entry.slice(0, slash);
  // A zone names an interface of this host, which a proxy's address in a list cannot use.
  if (address.includes('%')) return undefined;
  const family = familyOf(address);
  if (!family) return undefined;
  if (slash === -1) return { address, family };
  const prefixText = entry.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > (family === 'ipv4' ? 32 : 128)) return undefined;
  return { address, family, prefix };
}

/**
 * Whether `entry` can name a trusted proxy: an IP address (`10.0.0.5`, `::1`) or a CIDR block
 * (`10.0.0.0/8`, `fd00::/8`). Host names are not: they would be resolved once, at boot, and go
 * stale when the proxy moves.
 */
export function isProxyAddressOrBlock(entry: string): boolean {
  return parseProxyEntry(entry) !== undefined;
}

/**
 * The reverse proxies (load balancers) whose `X-Forwarded-For` the gateway believes.
 *
 * Any client can send `X-Forwarded-For`, so the header says something only when a proxy the
 * operator runs wrote it: such a proxy appends the address it saw to what the client sent. Read
 * from the right, the header is therefore trustworthy up to and including the first address that
 * is not one of those proxies; everything to its left came from the client.
 */
export class TrustedProxies {
  private readonly list = new BlockList();

  /** @throws TypeError for an entry {@link isProxyAddressOrBlock} refuses. */
  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const parsed = parseProxyEntry(entry);
      if (!parsed) {
        throw new TypeError(
          `not an IP address or CIDR block: ${JSON.stringify(entry)}`,
        );
      }
      if (parsed.prefix === undefined) {
        this.list.addAddress(parsed.address, parsed.family);
      } else {
        this.list.addSubnet(parsed.address, parsed.prefix, parsed.family);
      }
    }
  }

  /** Whether `address` is one of the proxies (IPv4-mapped IPv6 addresses match IPv4 entries). */
  trusts(address: string): boolean {
    const family = familyOf(address);
    return family !== undefined && this.list.check(address, family);
  }

  /**
   * The address of the client behind a connection from `peer`: `peer` itself unless it is a
   * trusted proxy; then the right-most address of `forwardedFor` that is not a trusted proxy (or
   * the left-most, when every one is). The walk stops at an entry that is not a bare IP address
   * (a port, a name, an overlong value): nothing written left of it can be vouched for, so the
   * result is the last hop that could be. What is returned is an address, never longer than
   * an IPv6 one with a short zone.
   */
  clientAddress(
    peer: string,
    forwardedFor: string | readonly string[] | undefined,
  ): string {
    if (forwardedFor === undefined || !this.trusts(peer)) return peer;
    // Node joins repeated X-Forwarded-For headers with ", " already; the array is its type's.
    const header =
      typeof forwardedFor === 'string' ? forwardedFor : forwardedFor.join(',');
    let client = peer;
    // Scanned from the end, without splitting: only the trusted hops at the right are read.
    let end = header.length;
    for (;;) {
      const comma = end === 0 ? -1 : header.lastIndexOf(',', end - 1);
      const hop = header.slice(comma + 1, end).trim();
      if (familyOf(hop) === undefined) return client;
      client = hop;
      if (!this.trusts(hop) || comma === -1) return client;
      end = comma;
    }
  }
}
