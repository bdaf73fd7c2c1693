#!/usr/bin/env node
// `nest-ws-gateway-contract`: writes the contract of a Nest application that imports GatewayModule
// (its AsyncAPI document, its events as a TypeScript module, its page for people) without serving
// it. A program, so writing to stdout and stderr is its job.
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { GatewayAdapter } from './gateway/gateway.adapter.js';
import { writeContract } from './gateway/contract/write-contract.js';

const USAGE = `usage: nest-ws-gateway-contract --module <file>#<ExportName> [--json <file>] [--types <file> [--types-name <Name>]] [--page <file>]

  --module <file>#<Export>  the compiled module of the application (e.g. dist/app.module.js#AppModule);
                            it is imported and created as an HTTP application that does not listen
  --json <file>             the AsyncAPI 3.0 document, as GET /asyncapi.json serves it
  --types <file>            the events as a TypeScript module for GatewayClient<Name> (no imports)
  --types-name <Name>       the name of its map (default: the export's name without "Module", then
                            "Events": AppModule gives AppEvents)
  --page <file>             the protocol as a Markdown page

The application is created as it would be at boot: its configuration reads the environment as
usual (run it with the environment of a default boot). At least one of --json, --types, --page.

exit status: 0 written; 1 the module failed; 2 bad usage`;

const EXIT = { OK: 0, FAILED: 1, USAGE: 2 } as const;

interface Args {
  file: string;
  exportName: string;
  json?: string;
  types?: string;
  typesName: string;
  page?: string;
}

function parse(argv: string[]): Args | string {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        module: { type: 'string' },
        json: { type: 'string' },
        types: { type: 'string' },
        'types-name': { type: 'string' },
        page: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return (err as Error).message;
  }
  const { values } = parsed;
  if (values.help) return '';
  if (!values.module) return 'missing --module <file>#<ExportName>';
  const hash = values.module.lastIndexOf('#');
  if (hash <= 0 || hash === values.module.length - 1)
    return `--module wants <file>#<ExportName>, e.g. dist/app.module.js#AppModule (got "${values.module}")`;
  const exportName = values.module.slice(hash + 1);
  if (!values.json && !values.types && !values.page)
    return 'nothing to write: give --json, --types or --page';
  if (values['types-name'] !== undefined && !values.types)
    return '--types-name goes with --types';
  const typesName =
    values['types-name'] ??
    `${exportName.replace(/Module$/, '') || 'Gateway'}Events`;
  if (!/^[A-Za-z_$][\w$]*$/.test(typesName))
    return `--types-name: "${typesName}" is not a TypeScript name`;
  return {
    file: values.module.slice(0, hash),
    exportName,
    json: values.json,
    types: values.types,
    typesName,
    page: values.page,
  };
}

/** The module class the argument names, or why there is none. */
async function loadModule(args: Args): Promise<object> {
  const path = resolve(args.file);
  if (!existsSync(path)) throw new Error(`${args.file}: no such file`);
  let exports: Record<string, unknown>;
  try {
    exports = (await import(pathToFileURL(path).href)) as Record<
      string,
      unknown
    >;
  } catch (err) {
    throw new Error(`${args.file} failed to load: ${describe(err)}`);
  }
  const found = exports[args.exportName];
  if (typeof found !== 'function') {
    const names = Object.keys(exports).filter(
      (name) => typeof exports[name] === 'function',
    );
    throw new Error(
      `${args.file} has no export ${args.exportName}` +
        (names.length > 0 ? ` (it exports ${names.join(', ')})` : ''),
    );
  }
  return found;
}

/** Writes to stdout, resolved once written (the process exits right after). */
function print(text: string): Promise<void> {
  return new Promise((done) => process.stdout.write(text, () => done()));
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function main(argv: string[]): Promise<number> {
  const args = parse(argv);
  if (typeof args === 'string') {
    // --help: the usage, on stdout; a bad argument: what is wrong and the usage, on stderr.
    if (!args) {
      await print(`${USAGE}\n`);
      return EXIT.OK;
    }
    await new Promise((done) =>
      process.stderr.write(
        `nest-ws-gateway-contract: ${args}\n\n${USAGE}\n`,
        done,
      ),
    );
    return EXIT.USAGE;
  }
  let app: INestApplication | undefined;
  try {
    const module = await loadModule(args);
    try {
      app = await NestFactory.create(module, {
        logger: false,
        abortOnError: false,
      });
      app.useWebSocketAdapter(new GatewayAdapter(app));
      await app.init();
    } catch (err) {
      throw new Error(
        `${args.exportName} could not be created: ${describe(err)}`,
      );
    }
    let written: string[];
    try {
      written = await writeContract(app, {
        json: args.json,
        types: args.types,
        typesName: args.typesName,
        page: args.page,
      });
    } catch (err) {
      throw new Error(
        /AsyncApiDocumentBuilder/.test(describe(err))
          ? `${args.exportName} has no AsyncApiDocumentBuilder: does it import GatewayModule (of the nest-ws-gateway this command comes with)?`
          : describe(err),
      );
    }
    for (const path of written) await print(`wrote ${path}\n`);
    return EXIT.OK;
  } catch (err) {
    await new Promise((done) =>
      process.stderr.write(
        `nest-ws-gateway-contract: ${describe(err)}\n`,
        done,
      ),
    );
    return EXIT.FAILED;
  } finally {
    await app?.close().catch(() => undefined);
  }
}

// Exit at once: a host's module may leave timers or sockets behind that would keep Node alive.
process.exit(await main(process.argv.slice(2)));
