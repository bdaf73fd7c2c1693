import { createConnection } from 'node:net';

/**
 * A WebSocket peer that completes the upgrade, then reads and ignores everything: it never
 * answers the server's close frame (nor its pings). Resolves, once upgraded, with `ended`: a
 * promise of how the connection ended.
 */
export function openStubbornSocket(
  port: number,
  token: string,
): Promise<{ ended: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(port, '127.0.0.1', () => {
      socket.write(
        'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
          `Authorization: Bearer ${token}\r\n\r\n`,
      );
    });
    socket.once('error', reject);
    socket.once('data', (chunk) => {
      if (!chunk.toString().startsWith('HTTP/1.1 101')) {
        reject(new Error(chunk.toString()));
        return;
      }
      socket.on('data', () => undefined);
      // Wrapped: resolving with a bare promise would adopt it and wait for the close.
      resolve({
        ended: new Promise((ended) =>
          socket.once('close', () => ended('closed by the server')),
        ),
      });
    });
  });
}
