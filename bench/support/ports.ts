import { createServer } from 'node:net';

/** A free TCP port on 127.0.0.1 (bound, then released for the server about to use it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Source addresses for client sockets: 127.0.0.2 and up. Each gives its own ephemeral port
 * range toward one server port (about 28,000 ports here), so 50,000 connections need several.
 */
export function sourceAddresses(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `127.0.0.${i + 2}`);
}
