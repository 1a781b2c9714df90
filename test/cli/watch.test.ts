/**
 * `watch` on a terminal, in process with a recorded terminal: the summary line refreshes while a
 * check runs, never shares a line with a log line, fits the width, says this process holds the lease;
 * each check logs its start and a heartbeat; Ctrl-C during a check says the candidate is finished
 * first; a second watch says who holds the lease and that it stands by.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createFixture, type Fixture } from '../../fixtures/repo.js';
import { main } from '../../src/cli/main.js';
import { CLEAR_LINE, fit, LiveLine } from '../../src/cli/live-line.js';
import { systemTimers } from '../../src/context.js';
import { statePaths } from '../../src/store/paths.js';
import { appendEvents, ledger, readyEvents, testEnv, waitFor, writeShadowConfig } from '../support/index.js';

/** What a terminal received, stream by stream, in order. */
class Recorded {
  readonly writes: { stream: 'out' | 'err'; text: string }[] = [];
  out = (text: string) => void this.writes.push({ stream: 'out', text });
  err = (text: string) => void this.writes.push({ stream: 'err', text });
  text = (stream: 'out' | 'err') => this.writes.filter((w) => w.stream === stream).map((w) => w.text).join('');
  /** Every summary drawn: what follows the last CLEAR_LINE of a stdout write. */
  summaries = () => this.writes.filter((w) => w.stream === 'out' && w.text.startsWith(CLEAR_LINE) && w.text.length > CLEAR_LINE.length).map((w) => w.text.slice(CLEAR_LINE.length));

  /** Fails when a log line is written while the summary's text is on the current line. */
  assertNeverGlued(): void {
    let summaryOnLine = false;
    for (const [i, w] of this.writes.entries()) {
      if (w.stream === 'err') {
        assert.ok(!summaryOnLine, `write ${i}: a log line glued to the summary: ${JSON.stringify(w.text)}`);
        assert.ok(w.text.endsWith('\n'), `write ${i}: a log line is whole: ${JSON.stringify(w.text)}`);
      } else {
        const after = w.text.slice(w.text.lastIndexOf(CLEAR_LINE) === -1 ? 0 : w.text.lastIndexOf(CLEAR_LINE) + CLEAR_LINE.length);
        summaryOnLine = after.length > 0 && !after.endsWith('\n');
      }
    }
  }
}

describe('the live line', () => {
  test('a log line clears the summary first and draws it again after; the summary fits the width', () => {
    const t = new Recorded();
    let n = 0;
    const line = new LiveLine({ stdout: t.out, stderr: t.err, columns: () => 20 }, () => `summary ${++n} ${'x'.repeat(30)}`);
    line.refresh();
    line.log('ts=1 event=a');
    line.refresh();
    line.close();
    assert.deepEqual(t.writes, [
      { stream: 'out', text: `${CLEAR_LINE}summary 1 xxxxxxxx…` },
      { stream: 'out', text: CLEAR_LINE },
      { stream: 'err', text: 'ts=1 event=a\n' },
      { stream: 'out', text: `${CLEAR_LINE}summary 2 xxxxxxxx…` },
      { stream: 'out', text: `${CLEAR_LINE}summary 3 xxxxxxxx…` },
      { stream: 'out', text: '\n' },
    ]);
    t.assertNeverGlued();
  });

  test('fit: cut to columns − 1 by characters, not bytes; one line; whole when the width is unknown', () => {
    assert.equal(fit('ab·cd·ef', 6), 'ab·c…');
    assert.equal([...fit('é'.repeat(100), 40)].length, 39);
    assert.equal(fit('short', 80), 'short');
    assert.equal(fit('two\nlines', 80), 'two lines');
    assert.equal(fit('x'.repeat(300), undefined), 'x'.repeat(300));
  });
});

describe('watch on a terminal, with a check that runs until the test releases it', { timeout: 120_000 }, () => {
  let fx: Fixture;
  let release: string;
  let candidate: { slug: string; branch: string; sha: string };

  before(() => {
    fx = createFixture({ scenarios: false, agents: ['alice'] });
    release = join(fx.root, 'release-the-check');
    const wt = fx.worktrees.alice as string;
    fx.git(wt, 'switch', '-q', '-c', 'agent/alice/slow');
    candidate = { slug: 'slow', branch: 'agent/alice/slow', sha: fx.commit(wt, { 'slow.txt': 'slow\n' }, 'slow') };
    fx.push(wt, 'agent/alice/slow');
    writeShadowConfig(fx.clone, { checks: [{ name: 'wait', run: `while [ ! -e '${release}' ]; do sleep 0.05; done` }] });
  });
  after(() => fx.remove());

  function startWatch(t: Recorded, stop: AbortSignal, columns: number): Promise<number> {
    return main(['watch', '--poll', '50', '--heartbeat', '0.05'], {
      cwd: fx.clone,
      env: testEnv(),
      now: () => new Date(),
      timers: systemTimers,
      stdout: t.out,
      stderr: t.err,
      stdin: () => Promise.resolve(''),
      isTTY: true,
      columns: () => columns,
      execPath: process.execPath,
      onStop: (listener) => {
        stop.addEventListener('abort', listener, { once: true });
        return () => stop.removeEventListener('abort', listener);
      },
    });
  }

  test('the holder: check start and heartbeat logged, summary refreshed and fitted, Ctrl-C finishes the candidate; a second watch stands by', async () => {
    const paths = statePaths(join(fx.clone, '.git', 'shadow-integrator'));
    appendEvents(paths.readiness, readyEvents(candidate, '2026-01-01T00:00:00Z'));
    const a = new Recorded();
    const stopA = new AbortController();
    const exitA = startWatch(a, stopA.signal, 90);
    await waitFor(() => a.text('err').includes('event=check_running'), 'a heartbeat of the running check');
    assert.match(a.text('err'), /level=info event=check_started slug=slow branch=agent\/alice\/slow sha=[0-9a-f]{40} check=wait timeout_s=300\n/);
    await waitFor(() => a.summaries().some((s) => /^this watch holds integration\/main \(epoch 1\) · slow: check "wait" \d+s · queue 1/.test(s)), 'the summary while the check runs');

    const b = new Recorded();
    const stopB = new AbortController();
    const exitB = startWatch(b, stopB.signal, 200);
    await waitFor(() => b.summaries().some((s) => /^standing by: integration\/main is held by [^ ]+:\d+ \(run [0-9a-f]{8}\), epoch 1 · /.test(s)), 'the second watch standing by');

    stopA.abort(); // Ctrl-C while the check runs
    await waitFor(() => a.text('err').includes('shadow-integrator: stopping'), 'what the stop does');
    assert.match(a.text('err'), /shadow-integrator: stopping: finishing the current candidate slow first \(check "wait" has run \d+s\), then releasing the lease; Ctrl-C again stops at once/);
    writeFileSync(release, '');
    assert.equal(await exitA, 0);
    assert.deepEqual(
      ledger(paths).map((o) => [o.slug, o.outcome]),
      [['slow', 'would_integrate']],
      'the candidate was finished, not abandoned',
    );
    stopB.abort();
    assert.equal(await exitB, 0);

    for (const [t, width] of [[a, 90], [b, 200]] as const) {
      t.assertNeverGlued();
      for (const s of t.summaries()) assert.ok([...s].length <= width - 1, `fits ${width} columns: ${s}`);
      assert.ok(t.text('out').endsWith('\n'), 'the summary is left on its own line at the end');
    }
    assert.ok(a.summaries().some((s) => s.endsWith('…')), 'a summary longer than 90 columns was cut');
  });
});
