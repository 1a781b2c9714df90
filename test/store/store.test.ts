/**
 * The store on real files: only regular files (symlinks, FIFOs, directories refused with named
 * errors), files created 0600, atomic JSON that refuses to write what its reader would refuse,
 * appends that start on a fresh line, the tail reader (whole lines, partial and over-long lines,
 * truncation, replacement, a rewrite in place, rotation), positions across rotated segments, the
 * holder's descriptors (orphaned by a taker's seal, reopened after a rotation, torn tails repaired),
 * temp files swept, and the proper-lockfile state mutex.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, test } from 'node:test';
import type { ShadowError } from '../../src/contract/errors.js';
import { validators } from '../../src/contract/validate.js';
import { readJson, writeJsonAtomic } from '../../src/store/atomic-json.js';
import { openState, readStateFile, sweepTempFiles, tempPathFor } from '../../src/store/files.js';
import { HolderLog, sealAgainstLateWriters } from '../../src/store/holder-log.js';
import { appendRecord, appendRecords, emptyCursor, forEachLineSince, hasWholeLineAfter, logEnd, readLogTail, sizeOf, type LogCursor } from '../../src/store/jsonl.js';
import lockfile from 'proper-lockfile';
import { withStateMutex, type MutexOptions } from '../../src/store/mutex.js';
import { statePaths } from '../../src/store/paths.js';
import { logSegments } from '../../src/store/segments.js';
import { at, sleep, tempDirsRemovedAfter } from '../support/index.js';

const dir = tempDirsRemovedAfter();

const lease = { schema_version: 1 as const, key: 'integration/main' as const, owner: { host: 'h', pid: 1, run_id: 'r' }, token: 't', epoch: 1, acquired_at: at(0), renewed_at: at(0), expires_at: at(60), released_at: null };

/** A seal by a taker that keeps its lease (one that loses it: test/runtime/late-writer.test.ts). */
const stillHeld = () => undefined;
const isCode = (code: string, re?: RegExp) => (e: ShadowError) => e.code === code && (!re || re.test(e.message));

describe('only regular files, created 0600', () => {
  test('a symlink is refused, not followed: a link to a private file leaks nothing', () => {
    const { dir: d } = dir();
    writeFileSync(join(d, 'private'), 'secret\n');
    symlinkSync(join(d, 'private'), join(d, 'readiness.jsonl'));
    assert.throws(() => openState(join(d, 'readiness.jsonl'), 'read'), isCode('E_STATE_NOT_REGULAR', /a symbolic link/));
    assert.throws(() => appendRecord(join(d, 'readiness.jsonl'), { a: 1 }), isCode('E_STATE_NOT_REGULAR'));
    assert.equal(readFileSync(join(d, 'private'), 'utf8'), 'secret\n');
  });

  test('a FIFO is refused at once instead of blocking; a directory is named as one', () => {
    const { dir: d } = dir();
    execFileSync('mkfifo', [join(d, 'fifo')]);
    assert.throws(() => openState(join(d, 'fifo'), 'read'), isCode('E_STATE_NOT_REGULAR', /a FIFO/));
    mkdirSync(join(d, 'readiness.jsonl'));
    assert.throws(() => readStateFile(join(d, 'readiness.jsonl')), isCode('E_STATE_READ', /it is a directory, where a file belongs; move the directory away/));
    assert.throws(() => appendRecord(join(d, 'readiness.jsonl'), { a: 1 }), isCode('E_STATE_WRITE', /move the directory away/));
  });

  test('files the tool creates are 0600', () => {
    const { dir: d } = dir();
    appendRecord(join(d, 'a.jsonl'), { a: 1 });
    writeJsonAtomic(join(d, 'lease.json'), lease, validators.lease);
    HolderLog.open(join(d, 'h.jsonl'), { rotatable: true }).close();
    for (const f of ['a.jsonl', 'lease.json', 'h.jsonl']) assert.equal(statSync(join(d, f)).mode & 0o777, 0o600, f);
  });

  test('permission denied is a named error with the path and what to do', () => {
    const { dir: d } = dir();
    chmodSync(d, 0o755);
    writeFileSync(join(d, 'lease.json'), JSON.stringify(lease), { mode: 0o600 });
    const readsAs = (file: string) => `import('${new URL('../../src/store/readers.js', import.meta.url).href}').then((m) => { try { m.readLeaseFile({ lease: '${file}' }); console.log('read'); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); } })`;
    // Root reads everything: the reader runs as nobody then, as a user of a shared machine would.
    const asOther = process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [];
    if (asOther.length === 0) chmodSync(join(d, 'lease.json'), 0);
    const out = execFileSync(asOther[0] ?? process.execPath, [...asOther.slice(1), ...(asOther.length ? [process.execPath] : []), '--input-type=module', '-e', readsAs(join(d, 'lease.json'))], { encoding: 'utf8' });
    const e = JSON.parse(out) as { code: string; message: string };
    assert.equal(e.code, 'E_STATE_READ');
    assert.match(e.message, new RegExp(`cannot read ${join(d, 'lease.json')}: EACCES permission denied; give the user running shadow-integrator read access`));
  });
});

describe('atomic JSON', () => {
  test('round trip; no temp file left', () => {
    const { dir: d } = dir();
    const file = join(d, 'lease.json');
    writeJsonAtomic(file, lease, validators.lease);
    assert.deepEqual(readJson(file, validators.lease), lease);
    assert.deepEqual(readdirSync(d), ['lease.json']);
  });

  test('a state file its reader would refuse is never written: an internal error, the old file intact', () => {
    const { dir: d } = dir();
    const file = join(d, 'lease.json');
    writeJsonAtomic(file, lease, validators.lease);
    assert.throws(() => writeJsonAtomic(file, { ...lease, expires_at: null as unknown as string }, validators.lease), isCode('E_INTERNAL', /its reader would refuse it/));
    assert.deepEqual(readJson(file, validators.lease), lease);
    assert.deepEqual(readdirSync(d), ['lease.json']);
  });

  test('readJson: null when absent, E_STATE_CORRUPT naming the file and the field otherwise', () => {
    const { dir: d } = dir();
    const file = join(d, 'lease.json');
    assert.equal(readJson(file, validators.lease), null);
    writeFileSync(file, '{"schema_version":1,');
    assert.throws(() => readJson(file, validators.lease), (e: ShadowError) => e.code === 'E_STATE_CORRUPT' && e.message.includes(file));
    writeFileSync(file, JSON.stringify({ ...lease, token: undefined }));
    assert.throws(() => readJson(file, validators.lease), isCode('E_STATE_CORRUPT', /token: is required/));
  });

  test('a write that cannot happen is E_STATE_WRITE naming the file', () => {
    const { dir: d } = dir();
    const file = join(d, 'sub', 'lease.json');
    assert.throws(() => writeJsonAtomic(file, lease, validators.lease), (e: ShadowError) => e.code === 'E_STATE_WRITE' && e.message.includes(file));
  });

  test('temp files of writers that are gone are swept; a live writer\'s are kept', () => {
    const { dir: d } = dir();
    const mine = tempPathFor(join(d, 'lease.json'));
    writeFileSync(mine, 'x');
    const dead = join(d, '.checkpoint.json.999999.abcdef01.tmp');
    writeFileSync(dead, 'x');
    const old = join(d, '.lease.json.1.abcdef02.tmp');
    writeFileSync(old, 'x');
    utimesSync(old, new Date(0), new Date(0));
    const removed = sweepTempFiles(d, new Date(), (pid) => pid !== 999999);
    assert.deepEqual(removed.sort(), ['.checkpoint.json.999999.abcdef01.tmp', '.lease.json.1.abcdef02.tmp']);
    assert.deepEqual(readdirSync(d), [mine.split('/').at(-1)]);
  });
});

describe('JSONL append and tail', () => {
  const collect = (file: string, from: LogCursor, maxLine = 1024) => {
    const lines: { text: string; offset: number; lineNo: number; position: number; tooLong: boolean }[] = [];
    const r = readLogTail(file, from, (l) => lines.push({ text: l.bytes.toString(), offset: l.offset, lineNo: l.line, position: l.position, tooLong: l.tooLong }), { maxLine });
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

  test('an append after a torn last line (a writer killed mid-line) starts on a fresh line: nothing glued, nothing lost', () => {
    const { dir: d } = dir();
    const file = join(d, 'readiness.jsonl');
    writeFileSync(file, '{"a":1}\n{"torn":');
    appendRecord(file, { b: 2 });
    assert.equal(readFileSync(file, 'utf8'), '{"a":1}\n{"torn":\n{"b":2}\n');
    const r = collect(file, emptyCursor());
    assert.deepEqual(r.lines.map((l) => l.text), ['{"a":1}', '{"torn":', '{"b":2}']);
  });

  test('a missing log reads as nothing', () => {
    const { dir: d } = dir();
    const r = collect(join(d, 'none.jsonl'), emptyCursor());
    assert.deepEqual(r.lines, []);
    assert.equal(r.reset, null);
  });

  test('whole lines only: a partial last line waits, then completes; offsets, positions and line numbers are exact', () => {
    const { dir: d } = dir();
    const file = join(d, 'log.jsonl');
    writeFileSync(file, 'one\ntwo\nthr');
    let r = collect(file, emptyCursor());
    assert.deepEqual(r.lines.map((l) => [l.text, l.offset, l.lineNo, l.position]), [['one', 0, 1, 0], ['two', 4, 2, 4]]);
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

  test('truncation is detected and the log read again from its start, at positions past everything before', () => {
    const { dir: d } = dir();
    const file = join(d, 'log.jsonl');
    writeFileSync(file, 'one\ntwo\nthree\n');
    const first = collect(file, emptyCursor());
    truncateSync(file, 0);
    appendFileSync(file, 'new\n');
    const r = collect(file, first.cursor);
    assert.equal(r.reset, 'truncated');
    assert.deepEqual(r.lines.map((l) => [l.text, l.offset, l.lineNo]), [['new', 0, 1]]);
    assert.ok((r.lines[0]?.position ?? 0) > (first.lines.at(-1)?.position ?? 0));
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

  test('a log rewritten in place with the same first 256 bytes and the old end on a line boundary is detected by its last consumed bytes', () => {
    const { dir: d } = dir();
    const file = join(d, 'log.jsonl');
    const head = `${'h'.repeat(300)}\n`;
    writeFileSync(file, `${head}${'x'.repeat(50)}\n`);
    const first = collect(file, emptyCursor());
    // Same inode, same first 256 bytes, the old end (offset 352) still on a line boundary.
    writeFileSync(file, `${head}${'y'.repeat(50)}\nnew line\n`);
    const r = collect(file, first.cursor);
    assert.equal(r.reset, 'replaced');
    assert.deepEqual(r.lines.map((l) => l.text[0]), ['h', 'y', 'n']);
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

  test('rotation (rename + a fresh file): the rest of the old file is read, then the new one, nothing twice; late lines of the old one too', () => {
    const { dir: d } = dir();
    const file = join(d, 'readiness.jsonl');
    writeFileSync(file, 'a1\na2\n');
    let r = collect(file, emptyCursor());
    assert.deepEqual(r.lines.map((l) => l.text), ['a1', 'a2']);
    appendFileSync(file, 'a3\n');
    renameSync(file, `${file}.1`);
    // Rotated and no fresh file yet: the rotated one goes on being read where it is.
    r = collect(file, r.cursor);
    assert.deepEqual(r.lines.map((l) => l.text), ['a3']);
    appendFileSync(`${file}.1`, 'a4\n');
    writeFileSync(file, 'b1\n');
    r = collect(file, r.cursor);
    assert.equal(r.rotated, true);
    assert.equal(r.reset, null);
    assert.deepEqual(r.lines.map((l) => l.text), ['a4', 'b1']);
    // A writer that opened the old file before the rotation appends to it late: read too, once.
    appendFileSync(`${file}.1`, 'a5\n');
    appendFileSync(file, 'b2\n');
    const positions = r.lines.map((l) => l.position);
    r = collect(file, r.cursor);
    assert.deepEqual(r.lines.map((l) => l.text).sort(), ['a5', 'b2']);
    r = collect(file, r.cursor);
    assert.deepEqual(r.lines, []);
    assert.ok((positions[1] ?? 0) > (positions[0] ?? 0), 'the new file\'s positions come after the old one\'s');
  });
});

describe('positions in rotatable logs (outcomes.jsonl, rejected.jsonl)', () => {
  const lines = (file: string, from: ReturnType<typeof logEnd> | null) => {
    const out: string[] = [];
    forEachLineSince(file, from, (b) => out.push(b.toString()));
    return out;
  };

  test('everything since a position, across rotated segments (a .gz one included), oldest first; a position survives a copy of its segment', () => {
    const { dir: d } = dir();
    const file = join(d, 'outcomes.jsonl');
    writeFileSync(file, 'o1\no2\n');
    const afterO2 = logEnd(file);
    appendFileSync(file, 'o3\n');
    renameSync(file, `${file}.1`);
    utimesSync(`${file}.1`, new Date(1000), new Date(1000));
    writeFileSync(`${file}.2.gz`, gzipSync('o0\n'));
    utimesSync(`${file}.2.gz`, new Date(500), new Date(500));
    writeFileSync(file, 'o4\n');
    assert.deepEqual(logSegments(file).map((s) => s.path.split('/').at(-1)), ['outcomes.jsonl.2.gz', 'outcomes.jsonl.1', 'outcomes.jsonl']);
    assert.deepEqual(lines(file, null), ['o0', 'o1', 'o2', 'o3', 'o4']);
    assert.deepEqual(lines(file, afterO2), ['o3', 'o4']);
    // A taker's seal copies the segment (new inode): the position still names it by its first bytes.
    sealAgainstLateWriters(file, null, stillHeld);
    assert.deepEqual(lines(file, afterO2), ['o3', 'o4']);
    // Its segment rotated away and deleted: every segment left is newer, all are read.
    rmSync(`${file}.1`);
    assert.deepEqual(lines(file, afterO2), ['o0', 'o4']);
  });

  test('the end of a log whose live file is empty (just rotated) is the end of the newest segment: nothing read twice', () => {
    const { dir: d } = dir();
    const file = join(d, 'rejected.jsonl');
    writeFileSync(file, 'r1\n');
    renameSync(file, `${file}.1`);
    writeFileSync(file, '');
    const end = logEnd(file);
    appendFileSync(file, 'r2\n');
    assert.deepEqual(lines(file, end), ['r2']);
  });
});

describe("the holder's descriptors", () => {
  test('a file rotated aside is reopened (the fresh one created); what was written before the rotation stays in the rotated one', () => {
    const { dir: d } = dir();
    const file = join(d, 'outcomes.jsonl');
    const log = HolderLog.open(file, { rotatable: true });
    log.append('{"n":1}\n', { fsync: false });
    renameSync(file, `${file}.1`);
    log.verify(1);
    log.append('{"n":2}\n', { fsync: true });
    log.close();
    assert.equal(readFileSync(`${file}.1`, 'utf8'), '{"n":1}\n');
    assert.equal(readFileSync(file, 'utf8'), '{"n":2}\n');
  });

  test("a taker's seal orphans the descriptor: the old holder's late write lands in a file nobody reads, and its next check says it lost the lease", () => {
    const { dir: d } = dir();
    const file = join(d, 'outcomes.jsonl');
    const old = HolderLog.open(file, { rotatable: true });
    old.append('{"n":1}\n', { fsync: true });
    // The old holder passed its check; before its write, a taker seals the file.
    assert.equal(sealAgainstLateWriters(file, null, stillHeld), 1);
    old.append('{"late":true}\n', { fsync: true });
    assert.equal(readFileSync(file, 'utf8'), '{"n":1}\n');
    assert.throws(() => old.verify(3), isCode('E_LEASE_LOST', /replaced by another holder/));
    old.close();
  });

  test('a seal copies whole lines only (a torn tail is dropped), keeps the mtime, and takes rotated segments renamed during the previous tenure', () => {
    const { dir: d } = dir();
    const file = join(d, 'outcomes.jsonl');
    writeFileSync(`${file}.1`, 'old\n');
    const longAgo = Date.now() - 3_600_000;
    writeFileSync(file, 'a\nb\ntor');
    utimesSync(file, new Date(5000), new Date(5000));
    const before = logSegments(file);
    sealAgainstLateWriters(file, longAgo, stillHeld);
    const after = logSegments(file);
    assert.equal(readFileSync(file, 'utf8'), 'a\nb\n');
    assert.equal(statSync(file).mtimeMs, 5000);
    assert.notEqual(after.find((s) => s.live)?.ino, before.find((s) => s.live)?.ino);
    assert.notEqual(after.find((s) => !s.live)?.ino, before.find((s) => !s.live)?.ino, 'renamed (ctime) after the previous tenure began: sealed too');
    const ino = statSync(`${file}.1`).ino;
    sealAgainstLateWriters(file, Date.now() + 3_600_000, stillHeld);
    assert.equal(statSync(`${file}.1`).ino, ino, 'a segment rotated before the previous tenure began is left alone');
  });

  test('repairTail: a whole record without its newline is completed, a torn one cut off', () => {
    const { dir: d } = dir();
    const whole = join(d, 'whole.jsonl');
    writeFileSync(whole, '{"a":1}\n{"b":2}');
    const w = HolderLog.open(whole, { rotatable: true });
    assert.deepEqual(w.repairTail((l) => JSON.parse(l.toString()) !== null), { completed: 7, removed: '' });
    w.close();
    assert.equal(readFileSync(whole, 'utf8'), '{"a":1}\n{"b":2}\n');
    const torn = join(d, 'torn.jsonl');
    writeFileSync(torn, '{"a":1}\n{"b":');
    const t = HolderLog.open(torn, { rotatable: true });
    assert.deepEqual(t.repairTail(() => false), { completed: 0, removed: '{"b":' });
    assert.equal(t.repairTail(() => false), null, 'nothing left to repair');
    t.close();
    assert.equal(readFileSync(torn, 'utf8'), '{"a":1}\n');
  });

  test('a write cut short (a full disk) is undone: the next record does not start inside a torn one', () => {
    const { dir: d } = dir();
    const file = join(d, 'outcomes.jsonl');
    const log = HolderLog.open(file, { rotatable: true });
    log.append('{"a":1}\n', { fsync: false });
    // A torn tail of our own (as a write cut short would leave before ftruncate): the next append starts fresh.
    const fd = openSync(file, 'a');
    writeSync(fd, '{"cut');
    closeSync(fd);
    log.append('{"b":2}\n', { fsync: false });
    log.close();
    assert.equal(readFileSync(file, 'utf8'), '{"a":1}\n{"cut\n{"b":2}\n');
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

  test('resumed after a pause, its fresh lock removed by a waiter that judged it stale (ENOENT): it tries again, and never says the state directory does not exist', async () => {
    const { dir: d } = dir();
    const paths = statePaths(d);
    let attempts = 0;
    const lock: NonNullable<MutexOptions['lock']> = async (file, options) => {
      attempts += 1;
      if (attempts === 1) throw Object.assign(new Error(`ENOENT: no such file or directory, stat '${paths.mutex}'`), { code: 'ENOENT' });
      return lockfile.lock(file, options);
    };
    assert.equal(await withStateMutex(paths, () => 42, { lock }), 42);
    assert.equal(attempts, 2);
    // The same failure with the directory really gone is reported at once, as such.
    rmSync(d, { recursive: true });
    await assert.rejects(withStateMutex(paths, () => 1, { lock: () => Promise.reject(Object.assign(new Error('ENOENT'), { code: 'ENOENT' })) }), (e: ShadowError) => e.code === 'E_STATE_DIR' && /does not exist/.test(e.message));
  });

  test('a missing state directory is E_STATE_DIR', async () => {
    const { dir: d } = dir();
    rmSync(d, { recursive: true });
    await assert.rejects(withStateMutex(statePaths(d), () => 1), (e: ShadowError) => e.code === 'E_STATE_DIR' && /does not exist/.test(e.message));
  });
});
