import {
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BatchedLineWriter, type WriteSyncFn } from './batched-line-writer.js';

const line = (n: number) => `${JSON.stringify({ n, msg: 'x'.repeat(20) })}\n`;

describe('BatchedLineWriter', () => {
  let dir: string;
  let path: string;
  let fd: number;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'batched-writer-'));
    path = join(dir, 'out.log');
    fd = openSync(path, 'w');
  });
  afterEach(() => {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  });

  const written = () => readFileSync(path, 'utf8');

  it('holds lines until the batch is full, then writes them in order with one write', () => {
    const calls: number[] = [];
    const counting: WriteSyncFn = (f, buffer, offset) => {
      calls.push(buffer.length - offset);
      return writeSync(f, buffer, offset);
    };
    const writer = new BatchedLineWriter(
      fd,
      { flushAtChars: line(0).length * 10, maxBufferedChars: 1e6 },
      counting,
    );
    for (let i = 0; i < 9; i++) writer.write(line(i));
    expect(written()).toBe('');
    writer.write(line(9));
    expect(calls).toHaveLength(1);
    expect(written()).toBe(
      Array.from({ length: 10 }, (_, i) => line(i)).join(''),
    );
  });

  it('writes what is buffered on flush and on flushSync, and calls flush back', () => {
    const writer = new BatchedLineWriter(fd, {
      flushAtChars: 1e6,
      maxBufferedChars: 1e7,
    });
    writer.write(line(1));
    let calledBack = false;
    writer.flush(() => {
      calledBack = true;
    });
    expect(calledBack).toBe(true);
    expect(written()).toBe(line(1));
    writer.write(line(2));
    writer.flushSync();
    expect(written()).toBe(line(1) + line(2));
  });

  it('keeps multi-byte text intact', () => {
    const writer = new BatchedLineWriter(fd, {
      flushAtChars: 1e6,
      maxBufferedChars: 1e7,
    });
    writer.write('{"msg":"héllo ✓ 世界"}\n');
    writer.flush();
    expect(written()).toBe('{"msg":"héllo ✓ 世界"}\n');
  });

  it('finishes a partial write and keeps a full descriptor’s rest for the next flush', () => {
    const out: Buffer[] = [];
    let mode: 'partial' | 'full' | 'ok' = 'partial';
    const flaky: WriteSyncFn = (_f, buffer, offset) => {
      if (mode === 'full') {
        throw Object.assign(new Error('EAGAIN'), { code: 'EAGAIN' });
      }
      // Accepts at most 7 bytes per call, then the descriptor is full.
      const n = Math.min(7, buffer.length - offset);
      out.push(Buffer.from(buffer.subarray(offset, offset + n)));
      if (mode === 'partial') mode = 'full';
      return n;
    };
    const writer = new BatchedLineWriter(
      fd,
      { flushAtChars: 1e6, maxBufferedChars: 1e7 },
      flaky,
    );
    writer.write(line(1));
    writer.flush();
    expect(Buffer.concat(out).toString()).toBe(line(1).slice(0, 7));
    writer.write(line(2));
    mode = 'ok';
    writer.flush();
    expect(Buffer.concat(out).toString()).toBe(line(1) + line(2));
    expect(writer.dropped).toBe(0);
  });

  it('drops and counts lines past its limit, then says so in a line of its own', () => {
    const out: string[] = [];
    let full = true;
    const blocked: WriteSyncFn = (_f, buffer, offset) => {
      if (full) throw Object.assign(new Error('EAGAIN'), { code: 'EAGAIN' });
      out.push(buffer.subarray(offset).toString());
      return buffer.length - offset;
    };
    const writer = new BatchedLineWriter(
      fd,
      { flushAtChars: 1e6, maxBufferedChars: line(0).length * 3 },
      blocked,
    );
    const accepted = [1, 2, 3, 4, 5].map((n) => writer.write(line(n)));
    expect(accepted).toEqual([true, true, true, false, false]);
    writer.flush();
    expect(writer.dropped).toBe(2);
    full = false;
    writer.flush();
    const lines = out.join('').trimEnd().split('\n');
    expect(lines.slice(0, 3)).toEqual([1, 2, 3].map((n) => line(n).trimEnd()));
    expect(JSON.parse(lines[3])).toMatchObject({
      level: 40,
      dropped: 2,
      msg: expect.stringContaining('log lines dropped'),
    });
  });

  it('never throws when the descriptor fails, and counts the lost lines', () => {
    const broken: WriteSyncFn = () => {
      throw Object.assign(new Error('EBADF'), { code: 'EBADF' });
    };
    const writer = new BatchedLineWriter(
      fd,
      { flushAtChars: 1e6, maxBufferedChars: 1e7 },
      broken,
    );
    writer.write(line(1));
    writer.write(line(2));
    expect(() => writer.flush()).not.toThrow();
    expect(writer.dropped).toBe(2);
  });
});
