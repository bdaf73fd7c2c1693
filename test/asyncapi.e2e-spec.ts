import { Parser } from '@asyncapi/parser';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  contractPage,
  eventMapSource,
  GatewayAdapter,
  GatewayModule,
} from '../src/index.js';
import { contractJson } from '../src/gateway/contract/write-contract.js';
import { spawnGateway, type SpawnedGateway } from './support/spawn-gateway.js';

const ROOT = resolve(import.meta.dirname, '..');
const CLI = join(ROOT, 'dist/contract-cli.js');
const COMMITTED = {
  json: 'docs/asyncapi.json',
  types: 'src/client/standard-events.ts',
  page: 'docs/asyncapi.md',
};
const STALE =
  'is not what the handlers say: run "npm run asyncapi" and commit what it writes';

const committed = (path: string) => readFileSync(join(ROOT, path), 'utf8');

interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the contract command with a clean environment: its exit code and output. */
function runContract(args: string[]): Promise<CommandResult> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('close', (code) => done({ code, stdout, stderr }));
  });
}

describe('the contract: AsyncAPI document, event map, page (e2e)', () => {
  let service: SpawnedGateway;
  let switchedOff: SpawnedGateway;
  let servedText: string;
  let served: Record<string, unknown>;
  const dir = mkdtempSync(join(tmpdir(), 'contract-'));
  const written = {
    json: join(dir, 'asyncapi.json'),
    types: join(dir, 'nested/standard-events.ts'),
    page: join(dir, 'asyncapi.md'),
  };
  let command: CommandResult;

  beforeAll(async () => {
    // The service as shipped (its defaults), the same with the document off, and the command
    // on the compiled module: side by side, as each takes a second or two to start.
    [service, switchedOff, command] = await Promise.all([
      // Empty is unset: the service's default, whatever the runner's environment says.
      spawnGateway({ AUTH_TOKENS: 'asyncapi-e2e-token', ASYNCAPI_ENABLED: '' }),
      spawnGateway({
        AUTH_TOKENS: 'asyncapi-e2e-token',
        ASYNCAPI_ENABLED: 'false',
      }),
      runContract([
        '--module',
        'dist/app.module.js#AppModule',
        '--json',
        written.json,
        '--types',
        written.types,
        '--types-name',
        'StandardEvents',
        '--page',
        written.page,
      ]),
    ]);
    const res = await fetch(`http://127.0.0.1:${service.port}/asyncapi.json`);
    expect(res.status).toBe(200);
    servedText = await res.text();
    served = JSON.parse(servedText) as Record<string, unknown>;
  }, 30_000);

  afterAll(async () => {
    await Promise.all([service?.stop(), switchedOff?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves a document the official parser finds no error in', async () => {
    const { diagnostics } = await new Parser().parse(servedText);
    const errors = diagnostics
      .filter((d) => d.severity === 0)
      .map((d) => `${d.path.join('/')}: ${d.message}`);
    expect(errors).toEqual([]);
  });

  it('has docs/asyncapi.json, src/client/standard-events.ts and docs/asyncapi.md as the handlers make them', () => {
    expect(committed(COMMITTED.json), `${COMMITTED.json} ${STALE}`).toBe(
      contractJson(served),
    );
    expect(committed(COMMITTED.types), `${COMMITTED.types} ${STALE}`).toBe(
      eventMapSource(served, { name: 'StandardEvents' }),
    );
    expect(committed(COMMITTED.page), `${COMMITTED.page} ${STALE}`).toBe(
      contractPage(served),
    );
  });

  it('writes the same three files with the command, from the compiled module', () => {
    expect(command.stderr).toBe('');
    expect(command.code).toBe(0);
    expect(command.stdout).toBe(
      `wrote ${written.json}\nwrote ${written.types}\nwrote ${written.page}\n`,
    );
    for (const key of ['json', 'types', 'page'] as const)
      expect(readFileSync(written[key], 'utf8')).toBe(
        committed(COMMITTED[key]),
      );
  });

  it('says what is wrong with a bad argument or a module that fails', async () => {
    const [usage, nothing, noFile, noExport] = await Promise.all([
      runContract(['--json', 'x.json']),
      runContract(['--module', 'dist/app.module.js#AppModule']),
      runContract(['--module', 'dist/nope.js#AppModule', '--json', 'x']),
      runContract(['--module', 'dist/app.module.js#ChatModule', '--json', 'x']),
    ]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('missing --module <file>#<ExportName>');
    expect(usage.stderr).toContain('usage: nest-ws-gateway-contract');
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain('nothing to write');
    expect(noFile.code).toBe(1);
    expect(noFile.stderr).toContain('dist/nope.js: no such file');
    expect(noExport.code).toBe(1);
    expect(noExport.stderr).toContain(
      'dist/app.module.js has no export ChatModule (it exports AppModule)',
    );
  });

  it('is a 404 when ASYNCAPI_ENABLED=false', async () => {
    const res = await fetch(
      `http://127.0.0.1:${switchedOff.port}/asyncapi.json`,
    );
    expect(res.status).toBe(404);
  });

  it('is a 404 in a host application that did not turn the option on', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [GatewayModule.forRoot({ auth: { tokens: ['host-token'] } })],
    }).compile();
    const app: INestApplication = moduleRef.createNestApplication({
      logger: false,
    });
    app.useWebSocketAdapter(new GatewayAdapter(app));
    await app.listen(0, '127.0.0.1');
    try {
      const { port } = app.getHttpServer().address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}/asyncapi.json`);
      expect(res.status).toBe(404);
    } finally {
      await app.close();
    }
  });
});
