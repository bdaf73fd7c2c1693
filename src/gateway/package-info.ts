import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'nest-ws-gateway';

/** The gateway package's folder and version, found from this file upward; once per process. */
export interface PackageInfo {
  readonly root?: string;
  readonly version: string;
}

let found: PackageInfo | undefined;

/**
 * Where the package sits (built from `src/` or `dist/`, or installed in a host's
 * `node_modules`): the console's assets are served from it, and its version is shown.
 */
export function packageInfo(): PackageInfo {
  if (found) return found;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as {
          name?: string;
          version?: string;
        };
        if (pkg.name === PACKAGE_NAME)
          return (found = { root: dir, version: pkg.version ?? 'unknown' });
      } catch {
        // Not ours, or unreadable: keep looking upward.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return (found = { version: 'unknown' });
    dir = parent;
  }
}

/**
 * The application's own name and version: its `package.json` in the working directory (where
 * `npm start` and the contract command run), else the gateway package's. The AsyncAPI document
 * of a host is titled with the host's name, not the library's.
 */
export function applicationInfo(): { name: string; version: string } {
  try {
    const pkg = JSON.parse(
      readFileSync(join(process.cwd(), 'package.json'), 'utf8'),
    ) as { name?: unknown; version?: unknown };
    if (typeof pkg.name === 'string' && typeof pkg.version === 'string')
      return { name: pkg.name, version: pkg.version };
  } catch {
    // No package.json there: a bundled or copied application.
  }
  return { name: PACKAGE_NAME, version: packageInfo().version };
}
