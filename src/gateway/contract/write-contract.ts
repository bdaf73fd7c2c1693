import type { INestApplicationContext } from '@nestjs/common';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AsyncApiDocumentBuilder } from './asyncapi-document.js';
import { contractPage } from './contract-page.js';
import { eventMapSource } from './event-map-source.js';

/** What {@link writeContract} writes: each file given (a path), nothing else. */
export interface ContractOutputs {
  /** The AsyncAPI document, as `GET /asyncapi.json` serves it (2-space JSON). */
  json?: string;
  /** The TypeScript module of the events (see `eventMapSource`). */
  types?: string;
  /** The name of its map; default `Events`. */
  typesName?: string;
  /** The Markdown page (see `contractPage`). */
  page?: string;
}

/** The AsyncAPI document as the JSON file `writeContract` writes: 2-space indent, a final newline. */
export function contractJson(document: object): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

/**
 * Writes the contract of an application that imports `GatewayModule` (initialised:
 * `await app.init()`, or listening): its AsyncAPI document, its events as a TypeScript module for
 * `GatewayClient<M>`, its page for people; what `nest-ws-gateway-contract` writes. Folders are
 * made as needed. Resolves with the paths written.
 */
export async function writeContract(
  app: INestApplicationContext,
  outputs: ContractOutputs,
): Promise<string[]> {
  const builder = app.get(AsyncApiDocumentBuilder, { strict: false });
  // As a client reads it: what JSON leaves out (undefined fields) is not there.
  const document = JSON.parse(JSON.stringify(builder.document())) as Record<
    string,
    unknown
  >;
  const files: Array<[string | undefined, () => string]> = [
    [outputs.json, () => contractJson(document)],
    [
      outputs.types,
      () => eventMapSource(document, { name: outputs.typesName ?? 'Events' }),
    ],
    [outputs.page, () => contractPage(document)],
  ];
  const written: string[] = [];
  for (const [path, content] of files) {
    if (!path) continue;
    const text = content();
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
    written.push(path);
  }
  return written;
}
