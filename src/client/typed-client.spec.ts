import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// What test/types/typed-client.ts proves to `npm run typecheck`, proved here by running tsc
// itself: a call to a misspelled event must not compile, and the same call corrected must, its
// reply typed by the map. The test fails if the client's typing ever becomes loose.

const ROOT = resolve(import.meta.dirname, '../..');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const CLIENT = join(ROOT, 'src/client/index.js');

/** A file calling `event` on a client typed by the standard events. */
function program(event: string): string {
  return [
    `import { GatewayClient, type PublishReceipt, type StandardEvents } from ${JSON.stringify(CLIENT)};`,
    `const client = new GatewayClient<StandardEvents>({ url: 'ws://localhost:8765/' });`,
    `export const receipt: Promise<PublishReceipt> = client.request(${JSON.stringify(event)}, { room: 'lobby', data: 1 });`,
    '',
  ].join('\n');
}

/** Runs `tsc -p` on a directory: its exit code and what it printed. */
function tsc(dir: string): Promise<{ code: number; output: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [TSC, '-p', dir, '--pretty', 'false'],
      { cwd: dir },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        done({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}

/** A directory with one file and a minimal tsconfig for it: only that file and the client. */
async function project(source: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'typed-client-'));
  await writeFile(join(dir, 'check.mts'), source);
  await writeFile(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'ES2023',
        strict: true,
        skipLibCheck: true,
        noEmit: true,
        incremental: false,
        types: [],
      },
      files: ['check.mts'],
    }),
  );
  return dir;
}

describe('GatewayClient<StandardEvents>, as tsc sees it', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(
      dirs.map((dir) => rm(dir, { recursive: true, force: true })),
    );
  });

  it('refuses a misspelled event, naming it, and takes the corrected call', async () => {
    const [wrong, right] = await Promise.all(
      [program('publsh'), program('publish')].map(async (source) => {
        const dir = await project(source);
        dirs.push(dir);
        return tsc(dir);
      }),
    );

    expect(wrong.code).not.toBe(0);
    expect(wrong.output).toMatch(
      /check\.mts\(\d+,\d+\): error TS\d+: .*"publsh"/,
    );

    // The corrected file compiles: the error was the misspelling, and the reply is typed.
    expect(right.output).toBe('');
    expect(right.code).toBe(0);
  }, 30_000);
});
