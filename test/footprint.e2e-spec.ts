import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { freePort } from './support/redis-server.js';

const MAIN = resolve(import.meta.dirname, '../dist/main.js');

/**
 * Boots the built gateway in a process of its own, waits for /healthz, and returns the files of
 * `pkg` that process loaded.
 */
async function loadedFilesOf(
  pkg: string,
  env: Record<string, string>,
): Promise<string[]> {
  const port = await freePort();
  const script = `
    import { createRequire } from 'node:module';
    const require = createRequire(${JSON.stringify(MAIN)});
    await import(${JSON.stringify(pathToFileURL(MAIN).href)});
    for (let i = 0; i < 200; i++) {
      try {
        if ((await fetch('http://127.0.0.1:${port}/healthz')).ok) break;
      } catch {}
      await new Promise((r) => setTimeout(r, 50));
    }
    const files = Object.keys(require.cache).filter((f) => f.includes('/node_modules/${pkg}/'));
    process.stderr.write('LOADED ' + JSON.stringify(files) + '\\n');
    process.exit(0);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      AUTH_TOKENS: 'footprint-token',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise((done) => child.once('exit', done));
  const line = /^LOADED (.*)$/m.exec(stderr);
  if (!line) throw new Error(`the gateway did not report: ${stderr}`);
  return JSON.parse(line[1]) as string[];
}

describe('what a gateway loads (e2e)', () => {
  it('without REDIS_URL, the Redis client is never loaded', async () => {
    expect(await loadedFilesOf('ioredis', {})).toEqual([]);
  });

  it('with REDIS_URL, it is', async () => {
    const files = await loadedFilesOf('ioredis', {
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      REDIS_CHANNEL_PREFIX: `footprint-${process.pid}`,
    });
    expect(files.length).toBeGreaterThan(0);
  });
});
