import { spawn, type ChildProcess } from 'node:child_process';
import { stopChild, track } from '../support/children.js';
import { pinnedCommand } from '../support/machine.js';
import { ROOT, WORKER_MAIN } from '../support/paths.js';
import type { Command, Reply, Request, ResultOf } from './protocol.js';

/** The longest any single command may take before the fleet gives up on it. */
const COMMAND_TIMEOUT_MS = 120_000;

class Worker {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    {
      resolve: (v: unknown) => void;
      reject: (e: Error) => void;
      timer: NodeJS.Timeout;
    }
  >();
  readonly ready: Promise<void>;

  constructor(
    readonly index: number,
    readonly child: ChildProcess,
  ) {
    let markReady!: () => void;
    this.ready = new Promise((resolve) => (markReady = resolve));
    child.on('message', (reply: Reply) => {
      if (reply.id === 0) return markReady();
      const entry = this.pending.get(reply.id);
      if (!entry) return;
      this.pending.delete(reply.id);
      clearTimeout(entry.timer);
      if (reply.ok) entry.resolve(reply.result);
      else entry.reject(new Error(`load worker ${index}: ${reply.error}`));
    });
    child.once('exit', (code, signal) => {
      for (const entry of this.pending.values()) {
        clearTimeout(entry.timer);
        entry.reject(
          new Error(`load worker ${index} exited (${code ?? signal})`),
        );
      }
      this.pending.clear();
    });
  }

  send<C extends Command>(command: C): Promise<ResultOf[C['type']]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new Error(`load worker ${this.index}: ${command.type} timed out`),
        );
      }, COMMAND_TIMEOUT_MS);
      this.pending.set(id, {
        resolve: resolve as (v: unknown) => void,
        reject,
        timer,
      });
      this.child.send({ ...command, id } satisfies Request);
    });
  }
}

/**
 * Load workers: child processes (not threads, so that each has its own open-files limit and the
 * fleet can hold more sockets than one process may), all pinned to the load core.
 */
export class Fleet {
  private constructor(readonly workers: Worker[]) {}

  static async start(
    count: number,
    pinCores: string | undefined,
  ): Promise<Fleet> {
    const workers: Worker[] = [];
    const fleet = new Fleet(workers);
    try {
      for (let i = 0; i < count; i++) {
        // --expose-gc: a worker collects its garbage before each measured window (worker.ts).
        const [command, args] = pinnedCommand(pinCores, process.execPath, [
          '--expose-gc',
          WORKER_MAIN,
        ]);
        const child = track(
          spawn(command, args, {
            cwd: ROOT,
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          }),
        );
        workers.push(new Worker(i, child));
      }
      const started = Promise.all(workers.map((w) => w.ready));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        started,
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error('load workers did not start in 15 s')),
            15_000,
          );
        }),
      ]);
      clearTimeout(timer);
      return fleet;
    } catch (err) {
      await fleet.stop();
      throw err;
    }
  }

  get size(): number {
    return this.workers.length;
  }

  /** Sends the same command to every worker (or the listed ones) and collects the results. */
  all<C extends Command>(
    command: C | ((w: number) => C),
    only?: number[],
  ): Promise<Array<ResultOf[C['type']]>> {
    const targets = only ?? this.workers.map((_, i) => i);
    return Promise.all(
      targets.map((i) =>
        this.workers[i].send(
          typeof command === 'function' ? command(i) : command,
        ),
      ),
    );
  }

  one<C extends Command>(
    index: number,
    command: C,
  ): Promise<ResultOf[C['type']]> {
    return this.workers[index].send(command);
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.workers.map(async ({ child }) => {
        if (child.connected) child.disconnect(); // the worker exits on disconnect
        await stopChild(child, 2000);
      }),
    );
  }
}

/** Splits `total` into `parts` near-equal shares. */
export function split(total: number, parts: number): number[] {
  return Array.from(
    { length: parts },
    (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0),
  );
}
