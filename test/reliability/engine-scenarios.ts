/**
 * Reliability scenarios with the real git engine on a real fixture repository (fixtures/repo.ts: a
 * bare origin, the canonical clone, agent worktrees), run by real `watch` and `drain` processes:
 * checks written by a hostile user, and git processes that never return. Each ends with exactly one
 * outcome per candidate and the zero-write proof of the clone and the origin.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pushBranches, type BranchSpec } from '../../fixtures/candidates.js';
import { createFixture, type Fixture, type ScenarioBranch } from '../../fixtures/repo.js';
import type { Outcome } from '../../src/contract/types.generated.js';
import { assertExactlyOnce, gone, guardCanonical, keyOf, ledger, processGroupMembers, waitFor } from '../support/index.js';
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
  // Straight into every git directory it can find, files and refs written by hand; last, its config
  // pointed at the canonical worktree and its index destroyed: the engine must notice and make the
  // scratch repository again (as it is, it would keep what this check left for the next candidate).
  {
    name: 'git-dir',
    run: [
      'for d in "${GIT_DIR:-}" "$(git rev-parse --absolute-git-dir)" "$(git rev-parse --path-format=absolute --git-common-dir)"; do',
      '  test -n "$d" || continue',
      '  echo hostile > "$d/HOSTILE" && git rev-parse HEAD > "$d/refs/heads/written-by-hand" && echo "$(git rev-parse HEAD) refs/heads/packed-by-hand" >> "$d/packed-refs" || exit 1',
      'done',
      'git config core.worktree "$(cd ../../.. && pwd)"',
      'echo garbage > "$(git rev-parse --absolute-git-dir)/index"',
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
        const batch = [...clean.slice(r * perRound, (r + 1) * perRound), ...others.slice(r * 2, r * 2 + 2)];
        appendLines(repo, readinessOf(batch, expected.length));
        expected.push(...batch);
        // A watcher and a drain (two in the soak) compete for the lease over the round's events.
        const watcher = startCli(repo, ['watch', '--poll', '50']);
        let watchLog = '';
        watcher.stderr?.on('data', (d: Buffer) => (watchLog += d.toString()));
        const drains = Array.from({ length: soak ? 2 : 1 }, () => startCli(repo, ['drain']));
        children.push(watcher, ...drains);
        const exits = [watcher, ...drains].map((c) => finished(c));
        await waitFor(() => outcomesOf(repo, batch).size === batch.length, `round ${r} decided`, 120_000);
        // Stopped only once its signal handlers are in place (a SIGTERM before would kill it, not stop it).
        await waitFor(() => watchLog.includes('event=watch_started'), 'watch to start');
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

/**
 * A merge driver that never returns (for src/config.txt, which the candidates that hang change and
 * main changes too after they forked) and an upload-pack that never answers the first fetch after the
 * test arms it. Each records its pid and process group, and leaves a child of its own running.
 */
function hangingGit(fx: Fixture): { env: NodeJS.ProcessEnv; armFetch(): void; hung(): { pid: number; group: number }[] } {
  const pids = join(fx.root, 'hung.pids');
  const armed = join(fx.root, 'fetch-armed');
  const record = `echo "$$ $(cut -d' ' -f5 /proc/$$/stat)" >> '${pids}'; sleep 600 & echo "$! $(cut -d' ' -f5 /proc/$!/stat)" >> '${pids}'`;
  const script = (name: string, body: string) => {
    const file = join(fx.root, name);
    writeFileSync(file, `#!/bin/sh\n${body}\n`);
    chmodSync(file, 0o755);
    return file;
  };
  const driver = script('hang-driver', `${record}\nexec sleep 600`);
  const uploadPack = script('upload-pack', `if rm '${armed}' 2>/dev/null; then ${record}; exec sleep 600; fi\nexec git upload-pack "$@"`);
  writeFileSync(join(fx.root, 'attributes'), 'src/config.txt merge=hang\n');
  // A global config the CLI is given (both engines read it; the scratch repository has no other).
  const global = join(fx.root, 'global.gitconfig');
  writeFileSync(global, `[core]\n\tattributesFile = ${join(fx.root, 'attributes')}\n[merge "hang"]\n\tdriver = ${driver} %O %A %B\n[remote "origin"]\n\tuploadpack = ${uploadPack}\n`);
  return {
    env: { GIT_CONFIG_GLOBAL: global },
    armFetch: () => writeFileSync(armed, ''),
    hung: () =>
      existsSync(pids)
        ? readFileSync(pids, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => ({ pid: Number(l.split(' ')[0]), group: Number(l.split(' ')[1]) }))
        : [],
  };
}

const GIT_TIMEOUT = 2;

const hungGit: Scenario = {
  name: 'a hung git (a merge driver, an upload-pack that never answers): killed at git_timeout_seconds with its process group; that candidate would_block git_error, the others decided',
  async run(soak) {
    const fx = createFixture({ scenarios: false });
    try {
      const rounds = soak ? 4 : 1;
      const base = fx.git(fx.clone, 'rev-parse', 'HEAD');
      // Per round: clean, hangs, clean — the one after the hung one shows the queue goes on.
      const specs = Array.from({ length: rounds }, (_, r) => [0, 1, 2].map((i) => ({ slug: `hung-${r}-${i}`, files: i === 1 ? { 'src/config.txt': `setting = hung ${r}\n` } : { [`feature/hung-${r}-${i}.txt`]: `${r} ${i}\n` } })));
      const branches = pushBranches(fx, base, [...specs.flat(), ...cleanSpecs('fetched', 2)]);
      fx.commit(fx.clone, { 'src/config.txt': 'setting = main\n' }, 'main moves: src/config.txt changed on both sides');
      fx.push(fx.clone, 'HEAD:refs/heads/main');
      const hanging = hangingGit(fx);
      const repo = shadowFixture(fx, {}, hanging.env);
      const canonical = guardCanonical(fx.clone, { origin: fx.origin });
      const timedOut = (what: string) => new RegExp(`git ${what} did not finish within ${GIT_TIMEOUT} s`);
      let decided = 0;
      for (let r = 0; r < rounds; r++) {
        // Both engines, merge-tree first: git writes a killed driver's temporary files (.merge_file_*)
        // where merge-tree runs it — a directory of the tool's own, never the canonical worktree.
        const engine = r % 2 === 0 ? 'merge-tree' : 'worktree';
        repo.configure({ engine, git_timeout_seconds: GIT_TIMEOUT });
        const batch = branches.slice(r * 3, r * 3 + 3);
        appendLines(repo, readinessOf(batch, decided));
        decided += batch.length;
        await drainToEnd(repo);
        const outcomes = outcomesOf(repo, batch);
        for (const [i, c] of batch.entries()) {
          if (i === 1) assertOutcome(outcomes.get(c), c, 'would_block', ['git_error'], timedOut(engine === 'worktree' ? 'merge' : 'merge-tree'));
          else assertOutcome(outcomes.get(c), c, 'would_integrate', []);
        }
      }
      // fetch: true, and the first fetch never answered: that candidate only.
      repo.configure({ fetch: true, git_timeout_seconds: GIT_TIMEOUT });
      hanging.armFetch();
      const fetched = branches.slice(-2);
      appendLines(repo, readinessOf(fetched, decided));
      await drainToEnd(repo);
      const outcomes = outcomesOf(repo, fetched);
      const blocked = fetched.filter((c) => outcomes.get(c)?.outcome !== 'would_integrate');
      if (blocked.length !== 1) throw new Error(`${blocked.length} of the fetched candidates blocked; the one whose fetch hung only: ${JSON.stringify([...outcomes.values()])}`);
      for (const c of fetched) {
        if (blocked.includes(c)) assertOutcome(outcomes.get(c), c, 'would_block', ['git_error'], timedOut('fetch'));
        else assertOutcome(outcomes.get(c), c, 'would_integrate', []);
      }

      const hung = hanging.hung();
      // A driver and its child per round, the upload-pack and its child.
      if (hung.length !== 2 * rounds + 2) throw new Error(`${hung.length} hung processes recorded: ${JSON.stringify(hung)}`);
      await waitFor(() => hung.every((h) => gone(h.pid) && processGroupMembers(h.group).length === 0), 'every hung process and its group to be gone');
      assertStateWhole(repo.paths);
      assertExactlyOnce(ledger(repo.paths), branches.map(keyOf));
      canonical.assertUntouched();
    } finally {
      fx.remove();
    }
  },
};

export const engineScenarios: Scenario[] = [hostileCheck, hungGit];
