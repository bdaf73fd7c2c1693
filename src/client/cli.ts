#!/usr/bin/env node
// The command-line client: `npm run client -- <url> --token <token> [--send <text>]`. A program,
// so writing to stdout and stderr is its job: frames go to stdout, everything else to stderr.
import { STATUS_CODES } from 'node:http';
import { createInterface, type Interface } from 'node:readline';
import { parseArgs } from 'node:util';
import { GatewayClient } from './gateway-client.js';
import { GatewayClientError, HandshakeRefusedError } from './errors.js';
import {
  isEnvelopeText,
  parseFrame,
  type RequestId,
} from '../protocol/index.js';
import { clientEnvironment } from '../config/client-environment.js';

const USAGE = `usage: npm run client -- <url> [--token <token>] [--send <text>] [options]

  <url>              ws://host:port/path (the gateway's, e.g. ws://localhost:8765/)
  -t, --token        the token, sent as "Authorization: Bearer <token>" (or set GATEWAY_TOKEN)
  -s, --send <text>  send this one frame (a JSON envelope or plain text), print the first
                     frame received, and exit; without it: an interactive prompt
  --timeout <ms>     how long to wait for a frame (--send) or for the replies to the lines
                     sent before stdin ended (prompt); default 10000
  --reconnect        prompt: reconnect with backoff when the connection drops
  --color, --no-color  colours (default: on when stdout is a terminal and NO_COLOR is unset)

exit status: 0 done; 1 refused, closed or timed out; 2 bad usage`;

/** Exit statuses. */
const EXIT = { OK: 0, FAILED: 1, USAGE: 2 } as const;

interface Args {
  url: string;
  token?: string;
  send?: string;
  timeoutMs: number;
  reconnect: boolean;
  color: boolean;
}

function parse(argv: string[]): Args | string {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        token: { type: 'string', short: 't' },
        send: { type: 'string', short: 's' },
        timeout: { type: 'string' },
        reconnect: { type: 'boolean' },
        color: { type: 'boolean' },
        'no-color': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return (err as Error).message;
  }
  const { values, positionals } = parsed;
  if (values.help) return '';
  if (positionals.length !== 1) return 'give exactly one URL';
  if (!/^wss?:\/\//.test(positionals[0])) {
    return `not a ws:// or wss:// URL: ${positionals[0]}`;
  }
  const timeoutMs = Number(values.timeout ?? 10_000);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    return `--timeout: a positive number of ms (got ${values.timeout})`;
  }
  return {
    url: positionals[0],
    token: values.token ?? clientEnvironment().token,
    send: values.send,
    timeoutMs,
    reconnect: values.reconnect ?? false,
    color: values['no-color']
      ? false
      : (values.color ??
        (process.stdout.isTTY === true && !clientEnvironment().noColor)),
  };
}

/** Writes frames to stdout and notes to stderr, in colour on request, above the prompt if any. */
class Printer {
  prompt?: Interface;

  constructor(private readonly color: boolean) {}

  /** A frame received: `< text` at the prompt, the bare text after --send. */
  frame(text: string, prefix = '< '): void {
    const isError = parseFrame(text)?.event === 'error';
    this.write(
      process.stdout,
      `${prefix}${this.paint(isError ? '31' : '32', text)}`,
    );
  }

  note(text: string): void {
    this.write(process.stderr, this.paint('2', text));
  }

  problem(text: string): void {
    this.write(process.stderr, this.paint('31', text));
  }

  private paint(code: string, text: string): string {
    return this.color ? `\x1b[${code}m${text}\x1b[0m` : text;
  }

  private write(stream: NodeJS.WriteStream, line: string): void {
    const interactive = this.prompt && process.stdout.isTTY;
    if (interactive) {
      // Print above the line being typed, then draw the prompt and the typing again.
      process.stdout.write('\r\x1b[K');
    }
    stream.write(`${line}\n`);
    if (interactive) this.prompt!.prompt(true);
  }
}

function describeClose(code: number, reason: string): string {
  return `closed: ${code}${reason ? ` ${reason}` : ''}`;
}

function describeFailure(err: unknown): string {
  if (err instanceof HandshakeRefusedError) {
    return `handshake refused: HTTP ${err.status} ${STATUS_CODES[err.status] ?? ''}`.trimEnd();
  }
  if (err instanceof GatewayClientError) {
    const closed = err as GatewayClientError & { closeReason?: string };
    return `cannot connect: ${closed.closeReason || err.message}`;
  }
  return `cannot connect: ${String((err as Error)?.message ?? err)}`;
}

/** --send: one frame out, the first frame in, exit. */
async function sendOnce(args: Args, print: Printer): Promise<number> {
  const client = new GatewayClient({
    url: args.url,
    token: args.token,
    reconnect: false,
    connectTimeoutMs: args.timeoutMs,
  });
  try {
    await client.connect();
  } catch (err) {
    print.problem(describeFailure(err));
    return EXIT.FAILED;
  }
  const status = await new Promise<number>((resolve) => {
    const done = (status: number) => {
      clearTimeout(timer);
      offFrame();
      offClose();
      resolve(status);
    };
    const timer = setTimeout(() => {
      print.problem(`no frame within ${args.timeoutMs} ms`);
      done(EXIT.FAILED);
    }, args.timeoutMs);
    const offFrame = client.on('frame', (text) => {
      print.frame(text, '');
      done(EXIT.OK);
    });
    const offClose = client.on('close', ({ code, reason }) => {
      print.problem(describeClose(code, reason));
      done(EXIT.FAILED);
    });
    client.sendRaw(args.send!);
  });
  await client.close();
  return status;
}

/**
 * What a typed line expects back: an envelope with an id gets exactly one frame with that id,
 * plain text one `server received: ...`. When stdin ends, the prompt waits for those first.
 */
class Expected {
  private readonly ids = new Set<string>();
  private texts = 0;
  private onSettled?: () => void;

  sent(line: string): void {
    if (!isEnvelopeText(line)) {
      this.texts++;
      return;
    }
    const id = parseFrame(line)?.id;
    if (id !== undefined) this.ids.add(key(id));
  }

  received(text: string): void {
    const frame = parseFrame(text);
    if (frame?.id !== undefined) this.ids.delete(key(frame.id));
    else if (!frame && text.startsWith('server received: ') && this.texts > 0)
      this.texts--;
    if (this.settled) this.onSettled?.();
  }

  get settled(): boolean {
    return this.ids.size === 0 && this.texts === 0;
  }

  /** Resolves when every expected frame came, or after `timeoutMs`. */
  wait(timeoutMs: number): Promise<void> {
    if (this.settled) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.onSettled = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

function key(id: RequestId): string {
  return JSON.stringify(id);
}

/** The prompt: each line sent as typed, every frame printed. */
async function interactive(args: Args, print: Printer): Promise<number> {
  const client = new GatewayClient({
    url: args.url,
    token: args.token,
    reconnect: args.reconnect ? { maxRetries: Infinity } : false,
    connectTimeoutMs: args.timeoutMs,
    maxQueuedMessages: 1_000,
  });
  const expected = new Expected();
  let ending = false;
  let finish!: (status: number) => void;
  const finished = new Promise<number>((resolve) => (finish = resolve));

  client.on('frame', (text) => {
    print.frame(text);
    expected.received(text);
  });
  client.on('close', ({ code, reason, willReconnect }) => {
    if (ending) return;
    print.note(describeClose(code, reason));
    if (!willReconnect) finish(code === 1000 ? EXIT.OK : EXIT.FAILED);
  });
  client.on('tokenExpired', () =>
    print.problem('the token expired: start again with a fresh one'),
  );
  client.on('reconnecting', ({ attempt, delayMs, error }) =>
    print.note(
      `reconnecting in ${delayMs} ms (attempt ${attempt}: ${error.message})`,
    ),
  );
  client.on('reconnected', () => print.note('reconnected'));
  client.on('reconnectFailed', ({ error }) => {
    print.problem(describeFailure(error));
    finish(EXIT.FAILED);
  });

  try {
    await client.connect();
  } catch (err) {
    print.problem(describeFailure(err));
    return EXIT.FAILED;
  }
  print.note(
    `connected to ${args.url}; type a JSON envelope or plain text${
      process.stdin.isTTY ? ', Ctrl-D to quit' : ''
    }`,
  );

  const rl = createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: process.stdin.isTTY === true && process.stdout.isTTY === true,
  });
  if (process.stdin.isTTY) {
    print.prompt = rl;
    rl.setPrompt('> ');
    rl.prompt();
  }
  rl.on('line', (line) => {
    if (line.trim() !== '') {
      try {
        client.sendRaw(line);
        expected.sent(line);
      } catch (err) {
        print.problem(`not sent: ${(err as Error).message}`);
      }
    }
    if (print.prompt) rl.prompt();
  });
  rl.on('SIGINT', () => rl.close());
  rl.on('close', () => {
    // Stdin ended (Ctrl-D, or the end of a pipe): wait for the replies still due, then leave.
    void expected.wait(args.timeoutMs).then(async () => {
      ending = true;
      await client.close();
      finish(EXIT.OK);
    });
  });

  const status = await finished;
  print.prompt = undefined;
  rl.close();
  await client.close();
  return status;
}

async function main(): Promise<number> {
  const args = parse(process.argv.slice(2));
  if (typeof args === 'string') {
    if (args) process.stderr.write(`${args}\n\n`);
    process.stderr.write(`${USAGE}\n`);
    return args ? EXIT.USAGE : EXIT.OK;
  }
  const print = new Printer(args.color);
  return args.send === undefined
    ? interactive(args, print)
    : sendOnce(args, print);
}

process.exit(await main());
