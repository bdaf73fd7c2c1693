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
