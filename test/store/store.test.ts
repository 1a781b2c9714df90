/**
 * The store on real files: atomic JSON replacement and validated reads, JSONL appends, the tail reader
 * (whole lines only, partial last line, over-long lines, truncation and replacement), and the
 * proper-lockfile state mutex.
 */
import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, readFileSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { ShadowError } from '../../src/contract/errors.js';
import { validators } from '../../src/contract/validate.js';
import { readJson, writeJsonAtomic } from '../../src/store/atomic-json.js';
import { appendRecord, appendRecords, emptyCursor, hasWholeLineAfter, sizeOf, tailLines, type LogCursor } from '../../src/store/jsonl.js';
import { withStateMutex } from '../../src/store/mutex.js';
import { statePaths } from '../../src/store/paths.js';
import { sleep, tempDirsRemovedAfter } from '../support/index.js';

const dir = tempDirsRemovedAfter();

const queueFile = (n: number) => ({
  schema_version: 1 as const,
  updated_at: '2026-01-01T00:00:00.000Z',
  lease_epoch: 1,
  items: Array.from({ length: n }, (_, i) => ({
    slug: `s${i}`,
    branch: `b${i}`,
    sha: i.toString(16).padStart(40, '0'),
    status: 'queued' as const,
    ready_at: '2026-01-01T00:00:00.000Z',
    log_offset: i * 300,
    enqueued_at: '2026-01-01T00:00:00.000Z',
    transitions: [],
  })),
});

describe('atomic JSON', () => {
  test('round trip, small and streamed (a long array is written piecewise), no temp file left', () => {
    const { dir: d } = dir();
    for (const n of [0, 3, 5000]) {
      const file = join(d, 'queue.json');
      writeJsonAtomic(file, queueFile(n));
      assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), queueFile(n));
      assert.deepEqual(readJson(file, validators.queue), queueFile(n));
    }
    assert.deepEqual(readdirSync(d), ['queue.json']);
  });

  test('undefined fields are left out, like JSON.stringify', () => {
    const { dir: d } = dir();
    writeJsonAtomic(join(d, 'x.json'), { a: 1, b: undefined, c: [1, undefined] });
    assert.equal(readFileSync(join(d, 'x.json'), 'utf8'), '{"a":1,"c":[1,null]}\n');
  });

  test('readJson: null when absent, E_STATE_CORRUPT naming the file and the field otherwise', () => {
    const { dir: d } = dir();
    const file = join(d, 'queue.json');
    assert.equal(readJson(file, validators.queue), null);
    writeFileSync(file, '{"schema_version":1,');
    assert.throws(() => readJson(file, validators.queue), (e: ShadowError) => e.code === 'E_STATE_CORRUPT' && e.message.includes(file));
    writeFileSync(file, JSON.stringify({ schema_version: 1, updated_at: 'x' }));
    assert.throws(() => readJson(file, validators.queue), (e: ShadowError) => e.code === 'E_STATE_CORRUPT' && /items: is required/.test(e.message));
  });

  test('a write that cannot happen is E_STATE_WRITE, and the old file is intact', () => {
    const { dir: d } = dir();
    const file = join(d, 'sub', 'queue.json');
    assert.throws(() => writeJsonAtomic(file, queueFile(1)), (e: ShadowError) => e.code === 'E_STATE_WRITE' && e.message.includes(file));
  });
});

describe('JSONL append and tail', () => {
  const collect = (file: string, from: LogCursor, maxLine = 1024) => {
    const lines: { text: string; offset: number; lineNo: number; tooLong: boolean }[] = [];
    const r = tailLines(file, from, (b, offset, lineNo, tooLong) => lines.push({ text: b.toString(), offset, lineNo, tooLong }), { maxLine });
    return { ...r, lines };
  };

  test('appendRecords writes one line a record and returns the size', () => {
    const { dir: d } = dir();
    const file = join(d, 'a.jsonl');
    assert.equal(appendRecords(file, []), 0);
    const size = appendRecords(file, [{ a: 1 }, { b: 'x' }]);
    assert.equal(size, statSync(file).size);
    assert.equal(appendRecord(file, { c: null }, { fsync: false }), sizeOf(file));
    assert.equal(readFileSync(file, 'utf8'), '{"a":1}\n{"b":"x"}\n{"c":null}\n');
  });

  test('a missing log reads as nothing', () => {
    const { dir: d } = dir();
    const r = collect(join(d, 'none.jsonl'), emptyCursor());
    assert.deepEqual(r.lines, []);
    assert.equal(r.reset, null);
  });

  test('whole lines only: a partial last line waits, then completes; offsets and line numbers are exact', () => {
    const { dir: d } = dir();
    const file = join(d, 'log.jsonl');
    writeFileSync(file, 'one\ntwo\nthr');
    let r = collect(file, emptyCursor());
    assert.deepEqual(r.lines.map((l) => [l.text, l.offset, l.lineNo]), [['one', 0, 1], ['two', 4, 2]]);
    assert.equal(r.cursor.offset, 8);
    assert.equal(r.cursor.lines, 2);
    assert.equal(r.pendingBytes, 3);
    r = collect(file, r.cursor);
    assert.deepEqual(r.lines, [], 'the partial line is not handed out twice, nor early');
    appendFileSync(file, 'ee\r\nfour\n');
    r = collect(file, r.cursor);
    assert.deepEqual(r.lines.map((l) => [l.text, l.offset, l.lineNo]), [['three\r', 8, 3], ['four', 15, 4]]);
    assert.equal(r.pendingBytes, 0);
    assert.equal(r.cursor.offset, statSync(file).size);
  });

  test('an over-long line is handed out cut and flagged, in the buffer and beyond it (5 MiB); the lines around it are read', () => {
    const { dir: d } = dir();
    const file = join(d, 'log.jsonl');
    writeFileSync(file, `a\n${'x'.repeat(2000)}\nb\n${'y'.repeat(5 * 1024 * 1024)}\nc\n`);
    const r = collect(file, emptyCursor(), 1000);
    assert.deepEqual(r.lines.map((l) => [l.text.length, l.tooLong, l.lineNo]), [[1, false, 1], [2000, false, 2], [1, false, 3], [1000, true, 4], [1, false, 5]]);
    assert.equal(r.lines[4]?.text, 'c');
    assert.equal(r.lines[4]?.offset, 2 + 2001 + 2 + 5 * 1024 * 1024 + 1);
    assert.equal(r.cursor.offset, statSync(file).size);
  });

  test('an over-long line still being written waits like any partial line', () => {
    const { dir: d } = dir();
    const file = join(d, 'log.jsonl');
    writeFileSync(file, `a\n${'y'.repeat(5 * 1024 * 1024)}`);
    const r = collect(file, emptyCursor(), 1000);
    assert.deepEqual(r.lines.map((l) => l.text), ['a']);
    assert.equal(r.pendingBytes, 5 * 1024 * 1024);
    appendFileSync(file, '\nz\n');
    const r2 = collect(file, r.cursor, 1000);
    assert.deepEqual(r2.lines.map((l) => [l.text.length, l.tooLong]), [[1000, true], [1, false]]);
  });

  test('hasWholeLineAfter: only a newline after the offset makes a whole line', () => {
    const { dir: d } = dir();
    const file = join(d, 'log.jsonl');
    assert.equal(hasWholeLineAfter(file, 0), false, 'no log');
    writeFileSync(file, 'one\ntw');
    assert.equal(hasWholeLineAfter(file, 0), true);
    assert.equal(hasWholeLineAfter(file, 4), false, 'only a partial line after 4');
    appendFileSync(file, `${'o'.repeat(200_000)}\n`);
    assert.equal(hasWholeLineAfter(file, 4), true, 'found past the first read buffer');
    assert.equal(hasWholeLineAfter(file, statSync(file).size), false);
  });

  test('truncation is detected and the log read again from its start', () => {
    const { dir: d } = dir();
    const file = join(d, 'log.jsonl');
    writeFileSync(file, 'one\ntwo\nthree\n');
    const first = collect(file, emptyCursor());
    truncateSync(file, 0);
    appendFileSync(file, 'new\n');
    const r = collect(file, first.cursor);
    assert.equal(r.reset, 'truncated');
    assert.deepEqual(r.lines.map((l) => [l.text, l.offset, l.lineNo]), [['new', 0, 1]]);
  });

  test('replacement by rename (new inode) is detected even when the new log is longer', () => {
    const { dir: d } = dir();
    const file = join(d, 'log.jsonl');
    writeFileSync(file, 'one\n');
    const first = collect(file, emptyCursor());
    writeFileSync(join(d, 'tmp'), 'alpha\nbeta\n');
    renameSync(join(d, 'tmp'), file);
    const r = collect(file, first.cursor);
    assert.equal(r.reset, 'replaced');
    assert.deepEqual(r.lines.map((l) => l.text), ['alpha', 'beta']);
  });

  test('a log rewritten in place (same inode, not shorter) is detected by its first bytes, however short', () => {
    for (const firstLen of [10, 200, 300, 5000]) {
      const { dir: d } = dir();
      const file = join(d, 'log.jsonl');
      writeFileSync(file, `${'a'.repeat(firstLen)}\n`);
      const first = collect(file, emptyCursor());
      const ino = statSync(file).ino;
      writeFileSync(file, `${'b'.repeat(firstLen)}\n${'c'.repeat(10)}\n`);
      assert.equal(statSync(file).ino, ino);
      const r = collect(file, first.cursor);
      assert.equal(r.reset, 'replaced', `first line of ${firstLen} bytes`);
      assert.deepEqual(r.lines.map((l) => l.text[0]), ['b', 'c']);
    }
  });

  test('an unchanged log that only grew is never reset', () => {
    const { dir: d } = dir();
    const file = join(d, 'log.jsonl');
    let cursor = emptyCursor();
    for (let i = 0; i < 50; i++) {
      appendFileSync(file, `${'l'.repeat(i * 7)}${i}\n`);
      const r = collect(file, cursor);
      assert.equal(r.reset, null, `after line ${i}`);
      assert.deepEqual(r.lines.map((l) => l.lineNo), [i + 1]);
      cursor = r.cursor;
    }
  });
});

describe('the state mutex (proper-lockfile)', () => {
  test('read-modify-write sections never overlap, and all of them happen', async () => {
    const { dir: d } = dir();
    const paths = statePaths(d);
    const counter = join(d, 'counter');
    writeFileSync(counter, '0');
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      Array.from({ length: 8 }, () =>
        withStateMutex(paths, async (assertIntact) => {
          inside += 1;
          maxInside = Math.max(maxInside, inside);
          const n = Number(readFileSync(counter, 'utf8'));
          await sleep(5);
          assertIntact();
          writeFileSync(counter, String(n + 1));
          inside -= 1;
        }),
      ),
    );
    assert.equal(readFileSync(counter, 'utf8'), '8');
    assert.equal(maxInside, 1);
  });

  test('the lock is released after a failure inside it, and the failure passes through', async () => {
    const { dir: d } = dir();
    const paths = statePaths(d);
    await assert.rejects(withStateMutex(paths, () => Promise.reject(new Error('boom'))), /boom/);
    assert.equal(await withStateMutex(paths, () => 42), 42);
    assert.deepEqual(readdirSync(d), []);
  });

  test('a missing state directory is E_STATE_DIR', async () => {
    const { dir: d } = dir();
    rmSync(d, { recursive: true });
    await assert.rejects(withStateMutex(statePaths(d), () => 1), (e: ShadowError) => e.code === 'E_STATE_DIR');
  });
});
