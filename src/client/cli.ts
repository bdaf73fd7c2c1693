#!/usr/bin/env node
// The command-line client: `npm run client -- <url> --token <token> [--send <text> | --history
// <room> | --presence <room>]`. A program, so writing to stdout and stderr is its job: frames go to
// stdout, everything else to stderr.
import { STATUS_CODES } from 'node:http';
import { createInterface, type Interface } from 'node:readline';
import { parseArgs } from 'node:util';
import { GatewayClient } from './gateway-client.js';
import {
  ConnectionClosedError,
  GatewayClientError,
  HandshakeRefusedError,
  RequestError,
} from './errors.js';
import {
  isEnvelopeText,
  parseFrame,
  type HistoryReply,
  type PresenceView,
  type RequestId,
  type StreamPosition,
} from '../protocol/index.js';
import { clientEnvironment } from '../config/client-environment.js';

const USAGE = `usage: npm run client -- <url> [--token <token>] [--send <text> | --history <room> | --presence <room>] [options]

  <url>              ws://host:port/path (the gateway's, e.g. ws://localhost:8765/)
  -t, --token        the token, sent as "Authorization: Bearer <token>" (or set GATEWAY_TOKEN)
  -s, --send <text>  send this one frame (a JSON envelope or plain text), print the first
                     frame received, and exit; without it: an interactive prompt
  --history <room>   print the room's kept messages, one JSON line each with its offset, oldest
                     first, and exit; the room's position goes to stderr
    --since <offset>:<epoch>  only the messages after that position
    --limit <n>      at most n messages (the server's default: 100)
  --presence <room>  print who is in the room, one JSON line per member, and exit; the count
                     goes to stderr (the server answers only members of the room by default)
    --join           join the room with presence first and print the join's view (this client
                     is then among the members)
  --timeout <ms>     how long to wait for a frame (--send, --history, --presence) or for the
                     replies to the lines sent before stdin ended (prompt); default 10000
  --reconnect        prompt: reconnect with backoff when the connection drops
  --color, --no-color  colours (default: on when stdout is a terminal and NO_COLOR is unset)

exit status: 0 done; 1 refused, closed or timed out; 2 bad usage`;

/** Exit statuses. */
const EXIT = { OK: 0, FAILED: 1, USAGE: 2 } as const;

interface Args {
  url: string;
  token?: string;
  send?: string;
  history?: { room: string; since?: StreamPosition; limit?: number };
  presence?: { room: string; join: boolean };
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
        history: { type: 'string' },
        since: { type: 'string' },
        limit: { type: 'string' },
        presence: { type: 'string' },
        join: { type: 'boolean' },
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
  const history = parseHistory(values);
  if (typeof history === 'string') return history;
  if (values.presence === '') return '--presence: a room name';
  if (values.join && values.presence === undefined) {
    return '--join goes with --presence';
  }
  const modes = [history, values.send, values.presence].filter(
    (mode) => mode !== undefined,
  );
  if (modes.length > 1) {
    return 'give one of --send, --history and --presence';
  }
  const presence =
    values.presence === undefined
      ? undefined
      : { room: values.presence, join: values.join ?? false };
  return {
    url: positionals[0],
    token: values.token ?? clientEnvironment().token,
    send: values.send,
    history,
    presence,
    timeoutMs,
    reconnect: values.reconnect ?? false,
    color: values['no-color']
      ? false
      : (values.color ??
        (process.stdout.isTTY === true && !clientEnvironment().noColor)),
  };
}

/** `--history <room> [--since <offset>:<epoch>] [--limit <n>]`, or an error message. */
function parseHistory(values: {
  history?: string;
  since?: string;
  limit?: string;
}): Args['history'] | string {
  const { history: room, since, limit } = values;
  if (room === undefined) {
    return since !== undefined || limit !== undefined
      ? '--since and --limit go with --history'
      : undefined;
  }
  if (room === '') return '--history: a room name';
  let position: StreamPosition | undefined;
  if (since !== undefined) {
    // The epoch is the server's string, whatever it holds: split at the first colon only.
    const colon = since.indexOf(':');
    const offset = Number(since.slice(0, colon));
    if (
      colon < 1 ||
      colon === since.length - 1 ||
      !Number.isSafeInteger(offset) ||
      offset < 0
    ) {
      return `--since: <offset>:<epoch>, as the history's position says (got ${since})`;
    }
    position = { offset, epoch: since.slice(colon + 1) };
  }
  const count = limit === undefined ? undefined : Number(limit);
  if (count !== undefined && (!Number.isInteger(count) || count <= 0)) {
    return `--limit: a positive number (got ${limit})`;
  }
  return { room, since: position, limit: count };
}

/** Writes frames to stdout and notes to stderr, in colour on request, above the prompt if any. */
class Printer {
  prompt?: Interface;

  constructor(private readonly color: boolean) {}

  /**
   * A frame received: `< text` at the prompt, the bare text after --send. At the prompt a room
   * message with an offset is followed by `#offset`, its place in the room's stream.
   */
  frame(text: string, prefix = '< '): void {
    const frame = parseFrame(text);
    const isError = frame?.event === 'error';
    const offset =
      prefix && frame?.event === 'message'
        ? (frame.data as { offset?: unknown } | null)?.offset
        : undefined;
    const mark =
      typeof offset === 'number' ? ` ${this.paint('2', `#${offset}`)}` : '';
    this.write(
      process.stdout,
      `${prefix}${this.paint(isError ? '31' : '32', text)}${mark}`,
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

/** What a history reply says beyond its messages: the room's position, lost or further ones. */
function describeHistory(reply: HistoryReply, since?: StreamPosition): string {
  const { room, offset, epoch, messages } = reply;
  const first = messages[0]?.offset;
  const last = messages[messages.length - 1]?.offset;
  const lines = [
    `${room}: ${messages.length} message${messages.length === 1 ? '' : 's'}${
      first === undefined ? '' : ` (${first}..${last})`
    }; the room is at ${offset}:${epoch}`,
  ];
  if (since && since.epoch !== epoch) {
    lines.push(`epoch ${since.epoch} is gone: these are the newest messages`);
  } else if (since && first !== undefined && first > since.offset + 1) {
    lines.push(`${since.offset + 1}..${first - 1} are no longer kept`);
  }
  if (last !== undefined && last < offset) {
    lines.push(`more after ${last}: --since ${last}:${epoch}`);
  }
  return lines.join('\n');
}

/**
 * The one-request modes (--history, --presence): a client without reconnection, `work` with
 * it, and the exit status; a failure is printed as `describe` says.
 */
async function oneRequest(
  args: Args,
  print: Printer,
  work: (client: GatewayClient) => Promise<void>,
  describe: (err: unknown) => string,
): Promise<number> {
  const client = new GatewayClient({
    url: args.url,
    token: args.token,
    reconnect: false,
    connectTimeoutMs: args.timeoutMs,
    requestTimeoutMs: args.timeoutMs,
  });
  try {
    await client.connect();
  } catch (err) {
    print.problem(describeFailure(err));
    return EXIT.FAILED;
  }
  let status: number = EXIT.OK;
  try {
    await work(client);
  } catch (err) {
    print.problem(describe(err));
    status = EXIT.FAILED;
  }
  await client.close();
  return status;
}

/** What failed in a one-request mode: how the connection closed, or the error's message. */
const describeRequestError = (err: unknown): string =>
  err instanceof ConnectionClosedError
    ? describeClose(err.closeCode, err.closeReason)
    : (err as Error).message;

/** --history: one history request, its messages on stdout, exit. */
function historyOnce(args: Args, print: Printer): Promise<number> {
  const { room, since, limit } = args.history!;
  return oneRequest(
    args,
    print,
    async (client) => {
      const reply = await client.history(room, { since, limit });
      for (const message of reply.messages) {
        print.frame(JSON.stringify(message), '');
      }
      print.note(describeHistory(reply, since));
    },
    describeRequestError,
  );
}

/** The count line of --presence: how many members, and whether they are listed. */
function describePresence(
  room: string,
  view: PresenceView,
  joined: boolean,
): string {
  const { count, members } = view;
  const lines = [`${room}: ${count} member${count === 1 ? '' : 's'}`];
  if (!members) lines.push('too many to list: only the count is known');
  else if (joined) lines.push('this client is among them (--join)');
  return lines.join('\n');
}

/** Why --presence failed: the error, and what to try when the server refuses non-members. */
function describePresenceError(err: unknown, joined: boolean): string {
  const message = describeRequestError(err);
  return err instanceof RequestError && err.code === 'FORBIDDEN' && !joined
    ? `${message}\n(only members of a room may ask by default: --join asks as one)`
    : message;
}

/** --presence: one `presence` request (or a `join` with presence), the members on stdout, exit. */
function presenceOnce(args: Args, print: Printer): Promise<number> {
  const { room, join } = args.presence!;
  return oneRequest(
    args,
    print,
    async (client) => {
      let view: PresenceView;
      if (join) {
        const reply = await client.join(room, { presence: true });
        const presence = reply.presence;
        if (!presence || 'error' in presence) {
          const error = presence?.error;
          throw new GatewayClientError(
            error
              ? `join: presence: ${error.code}: ${error.message}`
              : 'join: the reply carries no presence',
          );
        }
        view = presence;
      } else {
        view = await client.presence(room);
      }
      for (const member of view.members ?? []) {
        print.frame(JSON.stringify(member), '');
      }
      print.note(describePresence(room, view, join));
    },
    (err) => describePresenceError(err, join),
  );
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
  if (args.history) return historyOnce(args, print);
  if (args.presence) return presenceOnce(args, print);
  return args.send === undefined
    ? interactive(args, print)
    : sendOnce(args, print);
}

process.exit(await main());
