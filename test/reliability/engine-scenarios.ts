/**
 * Reliability scenarios with the real git engine on a real fixture repository (fixtures/repo.ts: a
 * bare origin, the canonical clone, agent worktrees), run by real `watch` and `drain` processes:
 * checks written by a hostile user. Each ends with exactly one
 * outcome per candidate and the zero-write proof of the clone and the origin.
 */
import { pushBranches, type BranchSpec } from '../../fixtures/candidates.js';
import { createFixture, type ScenarioBranch } from '../../fixtures/repo.js';
import type { Outcome } from '../../src/contract/types.generated.js';
import { assertExactlyOnce, guardCanonical, keyOf, ledger, waitFor } from '../support/index.js';
import { appendLines, assertStateWhole, candidateEvents, drainToEnd, finished, shadowFixture, startCli, type RunResult, type Scenario, type ShadowFixture } from './harness.js';

/** Each candidate's readiness events, ready in the order given, after those of earlier batches (`from`). */
const readinessOf = (candidates: readonly ScenarioBranch[], from: number): string[] => candidates.flatMap((c, i) => candidateEvents(c.slug, c.branch, c.sha, from + i));

/** The outcome of each candidate (exactly one each is asserted separately). */
function outcomesOf(repo: ShadowFixture, candidates: readonly ScenarioBranch[]): Map<ScenarioBranch, Outcome> {
  const byKey = new Map(ledger(repo.paths).map((o) => [keyOf(o), o]));
  return new Map(candidates.flatMap((c) => (byKey.has(keyOf(c)) ? [[c, byKey.get(keyOf(c)) as Outcome] as const] : [])));
}

function assertOutcome(o: Outcome | undefined, c: ScenarioBranch, outcome: Outcome['outcome'], reasons: string[], message?: RegExp): void {
  const got = o ? `${o.outcome} ${JSON.stringify(o.reasons)}: ${o.message ?? ''}` : 'no outcome';
  if (!o || o.outcome !== outcome || JSON.stringify(o.reasons) !== JSON.stringify(reasons) || (message && !message.test(o.message ?? ''))) {
    throw new Error(`${c.slug}: expected ${outcome} ${JSON.stringify(reasons)}${message ? ` ${String(message)}` : ''}, got ${got}`);
  }
}

const exitedCleanly = (what: string, r: RunResult): void => {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code ?? r.signal}: ${r.stderr.slice(-2000)}`);
};

const ID = '-c user.name=hostile -c user.email=hostile@fixture.invalid';

/**
 * Checks of a hostile user: every way a check could write a repository. Each must succeed (the
 * candidate is then would_integrate), so each write really happened — in the scratch repository.
 */
const HOSTILE_CHECKS = [
  // HEAD is main and the index the merge, whose new objects exist only in the evaluation's temporary directory.
  { name: 'commit', run: `git ${ID} commit -q -m "the merged tree" && git ${ID} commit -q --allow-empty -m again` },
  { name: 'refs', run: `git branch -f hostile && git tag -f hostile && git ${ID} tag -f -a -m t hostile-annotated && git update-ref refs/heads/main HEAD && git update-ref refs/remotes/origin/main HEAD && git update-ref -d refs/heads/hostile` },
  { name: 'stash', run: `echo hostile >> README.md && git ${ID} stash -q && test -n "$(git stash list)"` },
  { name: 'gc', run: 'git gc -q --prune=now' },
  // git -C into each directory above the scratch repository: the state directory, the canonical git
  // directory that holds it, the canonical worktree; and a push to the remote named origin from each.
  {
    name: 'climb',
    run: `for up in .. ../.. ../../..; do git -C $up branch -f hostile-up HEAD && git -C $up update-ref refs/heads/main HEAD && git -C $up ${ID} commit -q --allow-empty -m up && git -C $up ${ID} stash -q || exit 1; git -C $up push -q origin HEAD:refs/heads/main 2>/dev/null; done; true`,
  },
  // Straight into every git directory it can find, files and refs written by hand; last, the index
  // garbled and the config pointed at the canonical worktree (the engine must notice and start again).
  {
    name: 'git-dir',
    run: [
      'for d in "${GIT_DIR:-}" "$(git rev-parse --absolute-git-dir)" "$(git rev-parse --path-format=absolute --git-common-dir)"; do',
      '  test -n "$d" || continue',
      '  echo hostile > "$d/HOSTILE" && git rev-parse HEAD > "$d/refs/heads/written-by-hand" && echo "$(git rev-parse HEAD) refs/heads/packed-by-hand" >> "$d/packed-refs" || exit 1',
      'done',
      'echo garbage >> "$(git rev-parse --absolute-git-dir)/index"',
      'git config core.worktree "$(cd ../../.. && pwd)"',
    ].join('\n'),
  },
].map((c) => ({ ...c, timeout_seconds: 120 }));

/** Clean candidate branches forked from main's tip, each adding a file of its own. */
const cleanSpecs = (prefix: string, n: number): BranchSpec[] => Array.from({ length: n }, (_, i) => ({ slug: `${prefix}-${i}`, files: { [`feature/${prefix}-${i}.txt`]: `${prefix} ${i}\n` } }));

const hostileCheck: Scenario = {
  name: 'a hostile check (commit, branch, tag, stash, gc, update-ref, writes into $GIT_DIR, git -C ..) under watch and drain: the clone and the origin untouched',
  async run(soak) {
    const fx = createFixture({ scenarios: soak });
    const children: ReturnType<typeof startCli>[] = [];
    try {
      const rounds = soak ? 8 : 2;
      const perRound = soak ? 5 : 1;
      const clean = pushBranches(fx, fx.git(fx.clone, 'rev-parse', 'HEAD'), cleanSpecs('hostile', rounds * perRound));
      // In the soak, every scenario of the fixture too (conflicts, already integrated, not on its remote, superseded).
      const others = soak ? Object.values(fx.scenarios) : [];
      const repo = shadowFixture(fx);
      const canonical = guardCanonical(fx.clone, { origin: fx.origin });
      const expected: ScenarioBranch[] = [];
      for (let r = 0; r < rounds; r++) {
        repo.configure({ engine: r % 2 === 0 ? 'merge-tree' : 'worktree', checks: HOSTILE_CHECKS });
        // A watcher and a drain (two in the soak) compete for the lease while the round's events arrive.
        const watcher = startCli(repo, ['watch', '--poll', '50']);
        let watchLog = '';
        watcher.stderr?.on('data', (d: Buffer) => (watchLog += d.toString()));
        const drains = Array.from({ length: soak ? 2 : 1 }, () => startCli(repo, ['drain']));
        children.push(watcher, ...drains);
        const exits = [watcher, ...drains].map((c) => finished(c));
        // Stopped only once its signal handlers are in place (a SIGTERM before would kill it, not stop it).
        await waitFor(() => watchLog.includes('event=watch_started'), 'watch to start');
        const batch = [...clean.slice(r * perRound, (r + 1) * perRound), ...others.slice(r * 2, r * 2 + 2)];
        appendLines(repo, readinessOf(batch, expected.length));
        expected.push(...batch);
        await waitFor(() => outcomesOf(repo, batch).size === batch.length, `round ${r} decided`, 120_000);
        watcher.kill('SIGTERM');
        const [watched, ...drained] = await Promise.all(exits);
        exitedCleanly('watch', watched as RunResult);
        drained.forEach((d) => exitedCleanly('drain', d));
      }
      await drainToEnd(repo);
      assertStateWhole(repo.paths);
      assertExactlyOnce(ledger(repo.paths), expected.map(keyOf));
      canonical.assertUntouched();
      // Every hostile check succeeded on each clean candidate: what they wrote, they wrote somewhere.
      const outcomes = outcomesOf(repo, clean);
      for (const c of clean) assertOutcome(outcomes.get(c), c, 'would_integrate', []);
    } finally {
      for (const c of children) c.kill('SIGKILL');
      fx.remove();
    }
  },
};

export const engineScenarios: Scenario[] = [hostileCheck];
