/** The test support itself: fake timers fire only when driven, in time order; events report their lines; skipping is refused under CI. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { appendEvents, approved, cannotRunHere, fakeTimers, manualClock, SkipScenario, tempDirsRemovedAfter } from './index.js';

describe('fake timers', () => {
  test('nothing fires until the test advances time; then every due timer, in time order, on the clock', () => {
    const clock = manualClock(1_000);
    const timers = fakeTimers(clock);
    const fired: string[] = [];
    timers.setTimeout(() => fired.push(`b@${clock.now().getTime()}`), 200);
    timers.setTimeout(() => fired.push(`a@${clock.now().getTime()}`), 100);
    const every = timers.setInterval(() => fired.push(`i@${clock.now().getTime()}`), 150);
    assert.deepEqual(fired, []);
    timers.advance(99);
    assert.deepEqual(fired, []);
    timers.advance(251);
    assert.deepEqual(fired, ['a@1100', 'i@1150', 'b@1200', 'i@1300']);
    assert.equal(clock.now().getTime(), 1_350);
    timers.clearInterval(every);
    timers.advance(1_000);
    assert.equal(fired.length, 4);
    assert.equal(timers.pending(), 0);
  });

  test('next() jumps to the next timer; a cleared timeout never fires', () => {
    const timers = fakeTimers();
    let n = 0;
    const cancelled = timers.setTimeout(() => (n += 100), 10);
    timers.setTimeout(() => (n += 1), 60_000);
    timers.clearTimeout(cancelled);
    const start = timers.clock.now().getTime();
    assert.equal(timers.next(), true);
    assert.equal(n, 1);
    assert.equal(timers.clock.now().getTime() - start, 60_000);
    assert.equal(timers.next(), false);
  });
});

test('appendEvents returns the 1-based line of each appended event, after what the log holds', () => {
  const dir = tempDirsRemovedAfter()();
  const log = join(dir.dir, 'sub', 'readiness.jsonl');
  assert.deepEqual(appendEvents(log, [approved('a'), 'not json']), [1, 2]);
  assert.deepEqual(appendEvents(log, [approved('b')]), [3]);
  assert.equal(readFileSync(log, 'utf8').split('\n')[1], 'not json');
});

test('a scenario that cannot run its real form is skipped, except under CI=true where it fails', () => {
  const e = cannotRunHere('no tmpfs');
  if (process.env.CI === 'true') assert.ok(!(e instanceof SkipScenario) && /CI=true forbids skipping: no tmpfs/.test(e.message));
  else assert.ok(e instanceof SkipScenario && e.message === 'no tmpfs');
});
