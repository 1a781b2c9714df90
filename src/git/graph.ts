/**
 * A commit-graph of the tool's own, so that merge-base and merge-tree walk history with generation
 * numbers instead of parsing every commit (on git.git's 80k commits, a merge base in 15 ms instead of
 * 55). `<state_dir>/cache/commit-graph/` is an object directory that holds nothing but
 * `info/commit-graphs/`: written by `git commit-graph write --reachable --split` with it as the primary
 * object directory and the repository's store as an alternate, and read by the tool's git processes as
 * one more alternate. Nothing is written into the repository.
 *
 * Refreshed in the background when main has moved since the last write: a new layer with the new
 * commits only (git merges layers as they grow); rewritten whole (`--split=replace`) when the main it
 * was written for is no longer an ancestor of main — history was rewritten, and the old layers would
 * only keep commits nobody reaches. Not used when the repository has a commit-graph of its own: git
 * reads the first graph it finds, and that one is the repository's.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../context.js';
import { writeJsonAtomic } from '../store/atomic-json.js';
import { SHA } from './guard.js';
import { isAncestor } from './history.js';
import { openGit, runGit, type GitSettings } from './runner.js';

const CHAIN = join('info', 'commit-graphs', 'commit-graph-chain');

/** Whether an object directory holds a commit-graph (one file, or a chain of layers). */
const hasGraph = (objectDir: string) => existsSync(join(objectDir, 'info', 'commit-graph')) || existsSync(join(objectDir, CHAIN));

export class CommitGraph {
  readonly dir: string;
  /** Where the main it was last written for is kept. */
  private readonly record: string;
  private refreshing: Promise<void> | null = null;

  constructor(
    private readonly repoDir: string,
    private readonly commonDir: string,
    stateDir: string,
    private readonly settings: GitSettings,
    private readonly logger: Logger,
  ) {
    this.dir = join(stateDir, 'cache', 'commit-graph');
    this.record = join(stateDir, 'cache', 'commit-graph.json');
  }

  /** Whether the tool keeps a graph at all: only for a repository without one. */
  get wanted(): boolean {
    return !hasGraph(join(this.commonDir, 'objects'));
  }

  /** The alternates that make the graph visible to git: none until one has been written. */
  alternates(): string[] {
    return this.wanted && existsSync(join(this.dir, CHAIN)) ? [this.dir] : [];
  }

  /** Starts a refresh in the background if main moved since the last one, unless one is running. */
  refresh(mainSha: string): void {
    if (this.refreshing || !this.wanted || this.writtenFor() === mainSha) return;
    this.refreshing = this.write(mainSha)
      .catch((e: unknown) => this.logger.log('warn', 'commit_graph_not_written', { error: e instanceof Error ? e.message : String(e) }))
      .finally(() => (this.refreshing = null));
  }

  /** Waits for a running refresh (cancelled with the settings' signal). */
  async settled(): Promise<void> {
    await this.refreshing;
  }

  private async write(mainSha: string): Promise<void> {
    const previous = this.writtenFor();
    const objects = join(this.commonDir, 'objects');
    const replace = previous !== null && !(await isAncestor(openGit(this.repoDir, this.settings, { alternates: this.alternates() }), previous, mainSha).catch(() => false));
    mkdirSync(join(this.dir, 'info'), { recursive: true });
    const h = openGit(this.repoDir, this.settings, { objectDir: this.dir, alternates: [objects] });
    await runGit(h, ['commit-graph', 'write', '--reachable', replace ? '--split=replace' : '--split', '--no-progress']);
    writeJsonAtomic(this.record, { main: mainSha });
    this.logger.log('debug', 'commit_graph_written', { main: mainSha, replace });
  }

  private writtenFor(): string | null {
    try {
      const main = (JSON.parse(readFileSync(this.record, 'utf8')) as { main?: unknown }).main;
      return typeof main === 'string' && SHA.test(main) ? main : null;
    } catch {
      return null;
    }
  }
}
