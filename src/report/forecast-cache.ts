/**
 * `<state_dir>/cache/forecast.json` (schemas/forecast-cache.schema.json): what the last collision
 * forecast merged on main's tip, so that the next one merges only what changed, and the rule that
 * says which answers still hold after main moved.
 *
 * The rule (`carriesOver`). Merging candidate X onto main M decides each path from that path's
 * versions in X's merge base, M and X; a path X's commits never touch takes M's version and cannot
 * conflict. So X's answer on the previous main M0 holds on the new main M1 when
 * 1. X's commits not in main are the same on both (so are its merge bases, with main and with any
 *    other candidate: a pair's base is a common ancestor of the two topics or of main);
 * 2. main's new changes (the paths M0's and M1's trees differ in) touch none of the paths X's
 *    commits change — on those paths M0 and M1 agree, elsewhere X defers to main either way;
 * 3. no directory rename moves a file across that line: main's change removed no directory (now
 *    gone from M1) that holds a path X changes, and X's commits removed no directory (gone from X's
 *    tree) that holds a path main's change touches — merge-ort would move new files along;
 * 4. main's change touches no `.gitattributes` (merge drivers and attributes apply to every path).
 * A pair's answer holds when it holds for both candidates: its merge decides each path from the two
 * topics' versions and main's, and on every path either topic changes main did not move. Stated
 * in docs/contract.md ("conflicts") and proved against a cold forecast in test/report/conflicts.test.ts.
 *
 * Derived data, deletable at any time: a file that is missing, unreadable or not valid against its
 * schema is ignored (and rebuilt by the run), never an error. Written whole by atomic replace; a
 * failed write is logged and the forecast stands.
 */
import { join } from 'node:path';
import type { Logger } from '../context.js';
import { forecastCache as validateForecastCache } from '../contract/cache-validators.generated.js';
import type { CandidateEntry, ForecastCache } from '../contract/types.generated.js';
import type { PathChange } from '../git/changes.js';
import { readCache, writeCache } from '../store/atomic-json.js';

export const forecastCachePath = (stateDir: string) => join(stateDir, 'cache', 'forecast.json');


/** A pair's key: its shas in byte order (the first is merged onto main first). */
export const pairKey = (x: string, y: string): [string, string] => (x < y ? [x, y] : [y, x]);

/** What the forecast needs to know of main's move from M0 to M1 (see the rule in the file comment). */
export interface MainMove {
  /** Paths M0's and M1's trees differ in. */
  changed: ReadonlySet<string>;
  /** Every directory holding one of those paths. */
  changedDirs: ReadonlySet<string>;
  /** Directories M0 has and M1 no longer has, where main's change removed files. */
  vanished: ReadonlySet<string>;
  /** The change touches a .gitattributes: nothing carries over. */
  attributes: boolean;
}

/** The directories holding a path: `a/b/c` → `a`, `a/b`. */
function dirsOf(path: string): string[] {
  const dirs: string[] = [];
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) dirs.push(path.slice(0, i));
  return dirs;
}

/** The directories holding a deleted path: those a change may have removed (whether it did, the tree after says). */
export function dirsOfDeletions(changes: readonly PathChange[]): string[] {
  return [...new Set(changes.filter((c) => c.status === 'D').flatMap((c) => dirsOf(c.path)))];
}

/** Main's move as the rule reads it, from the changes of M0's tree to M1's and which removed directories M1 no longer has. */
export function mainMove(changes: readonly PathChange[], vanished: ReadonlySet<string>): MainMove {
  const changed = new Set(changes.map((c) => c.path));
  const changedDirs = new Set([...changed].flatMap(dirsOf));
  const attributes = [...changed].some((p) => p === '.gitattributes' || p.endsWith('/.gitattributes'));
  return { changed, changedDirs, vanished, attributes };
}

/** Whether a candidate's answer on the previous main holds on the new one (the rule in the file comment). */
export function carriesOver(before: Pick<CandidateEntry, 'topic' | 'paths' | 'vanished'>, now: Pick<CandidateEntry, 'topic'>, move: MainMove): boolean {
  if (move.attributes || before.topic !== now.topic) return false;
  for (const p of before.paths) {
    if (move.changed.has(p)) return false;
    if (move.vanished.size > 0 && dirsOf(p).some((d) => move.vanished.has(d))) return false;
  }
  return !before.vanished.some((d) => move.changedDirs.has(d));
}

export class ForecastCacheFile {
  private constructor(
    private readonly path: string,
    readonly data: ForecastCache | null,
  ) {}

  /** The cache in `stateDir`; none when there is none that can be used (said at debug level). */
  static read(stateDir: string, logger: Logger): ForecastCacheFile {
    const path = forecastCachePath(stateDir);
    return new ForecastCacheFile(path, readCache(path, validateForecastCache, logger));
  }

  entry(sha: string): CandidateEntry | undefined {
    return this.data?.candidates[sha];
  }

  pair(a: string, b: string): string[] | undefined {
    return this.data?.pairs[`${a} ${b}`];
  }

  /** Writes what this forecast knows (only its own candidates and pairs: the file follows the live work). */
  save(data: ForecastCache, logger: Logger): void {
    writeCache(this.path, data, validateForecastCache, logger, 'forecast_cache_not_written');
  }
}
