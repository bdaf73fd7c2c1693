import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { packageInfo } from '../package-info.js';

/** A file of the console's page, in memory. */
export interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
  /** Named by its content's hash: cached for good. */
  readonly immutable: boolean;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

/** The folder the console's page is built into (`npm run build:console`), in the package. */
export const CONSOLE_ASSETS_DIR = 'dist-console';

/**
 * The console's built page, read once from the package into memory (a few files, about a
 * hundred kilobytes): served without a file system lookup per request, and with no path from a
 * request ever reaching the file system.
 */
export class ConsoleAssets {
  private readonly files = new Map<string, Asset>();
  /** Why there is no page, when there is none. */
  readonly missing?: string;

  constructor(dir = defaultDir()) {
    if (!dir || !existsSync(join(dir, 'index.html'))) {
      this.missing = `the console's page is not built (no ${CONSOLE_ASSETS_DIR}/index.html in the package): run npm run build:console`;
      return;
    }
    for (const file of walk(dir)) {
      const body = readFileSync(file);
      const name = relative(dir, file).split(sep).join('/');
      this.files.set(name, {
        body,
        type: TYPES[extname(file)] ?? 'application/octet-stream',
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
        immutable: name.startsWith('assets/'),
      });
    }
  }

  /** The page itself. */
  get index(): Asset | undefined {
    return this.files.get('index.html');
  }

  /** A file under `assets/`, by its name there. */
  asset(name: string): Asset | undefined {
    return this.files.get(`assets/${name}`);
  }
}

function defaultDir(): string | undefined {
  const root = packageInfo().root;
  return root ? join(root, CONSOLE_ASSETS_DIR) : undefined;
}

function* walk(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* walk(path);
    else yield path;
  }
}
