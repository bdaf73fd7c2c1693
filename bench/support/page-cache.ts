import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** What {@link writeOutPageCache} found and how long the write-out took. */
export interface PageCacheFlush {
  /** Dirty and under-writeback page cache before, in KiB (/proc/meminfo). */
  unwrittenKiB: number;
  /** How long `sync` took, in ms. */
  ms: number;
}

/** Dirty plus under-writeback page cache, in KiB; 0 where /proc/meminfo does not say. */
function unwrittenKiB(): number {
  let meminfo: string;
  try {
    meminfo = readFileSync('/proc/meminfo', 'utf8');
  } catch {
    return 0;
  }
  const kib = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(meminfo)?.[1] ?? 0);
  return kib('Dirty') + kib('Writeback');
}

/**
 * Writes the page cache's dirty pages out (`sync`) before anything is measured. `npm ci` and the
 * build before a run leave some 300 MB of files not yet on disk, and the kernel writes them back
 * about 30 s later (`vm.dirty_expire_centisecs`): in the first case measured, echo with one
 * request in flight, whose rounds the writeback threads and the disk's interrupts then share
 * with the servers and the load, on both cores (traced: 288 MB written back between 5 and 20 s
 * into a run, that case's first three rounds). Undefined where `sync` is not there to run.
 */
export function writeOutPageCache(): PageCacheFlush | undefined {
  const before = unwrittenKiB();
  const t0 = performance.now();
  try {
    execFileSync('sync', { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  return { unwrittenKiB: before, ms: performance.now() - t0 };
}
