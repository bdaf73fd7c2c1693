import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { startApp, TEST_TOKEN, type RunningApp } from './support/start-app.js';
import { connect } from './support/ws-client.js';

const CLIENT = resolve(import.meta.dirname, 'python/tutorial_client.py');
// Debian's python3 with its python3-websockets package (.ci/run installs it).
const PYTHON = process.env.TUTORIAL_PYTHON ?? '/usr/bin/python3';

interface PythonRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the tutorial-style client; `onLine` sees each stdout line as it comes. */
function runClient(
  args: string[],
  onLine?: (line: string) => void,
): Promise<PythonRun> {
  return new Promise((done, fail) => {
    const child = spawn(PYTHON, [CLIENT, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill();
      fail(
        new Error(
          `python client timed out; stdout:\n${stdout}\nstderr:\n${stderr}`,
        ),
      );
    }, 15_000);
    child.stdout.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      stdout += text;
      if (onLine)
        for (const line of text.split('\n').filter(Boolean)) onLine(line);
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', fail);
    child.once('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

describe("python-websockets' own client, written as the tutorial writes it (e2e)", () => {
  let gateway: RunningApp;

  beforeAll(async () => {
    gateway = await startApp();
  });
  afterAll(async () => {
    await gateway.close();
  });

  it('sends plain text and gets the tutorial server’s answer', async () => {
    const run = await runClient([gateway.wsUrl, TEST_TOKEN, 'Hello world']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      'connected\n>>> Hello world\n<<< server received: Hello world\n',
    );
  });

  it('speaks the JSON protocol too', async () => {
    const run = await runClient([
      gateway.wsUrl,
      TEST_TOKEN,
      '{"event":"echo","data":[1,2],"id":"py"}',
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('<<< {"event":"echo","data":[1,2],"id":"py"}');
  });

  it('is refused with HTTP 401 for a wrong token', async () => {
    const run = await runClient([gateway.wsUrl, 'not-the-token', 'Hello']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('rejected: HTTP 401');
  });

  it('receives a broadcast from another client', async () => {
    const sender = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    const run = runClient(
      [gateway.wsUrl, TEST_TOKEN, '--pushes', '1'],
      (line) => {
        if (line === 'connected')
          sender.sendJson({ event: 'broadcast', data: 'to python', id: 1 });
      },
    );
    const { code, stdout } = await run;
    expect(code).toBe(0);
    expect(stdout).toMatch(
      /<<< \{"event":"broadcast","data":\{"from":"[\w-]+","data":"to python"\}\}/,
    );
    await sender.close();
  });
});
